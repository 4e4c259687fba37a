// See compile_cache.h.
#include "emu/compile_cache.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace klpemu {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic = "klpemu-compile-cache 1";

// 128-bit FNV-1a over length-prefixed fields.
class Hash128 {
  public:
    void bytes(const void* data, size_t size) {
        const auto* p = static_cast<const uint8_t*>(data);
        for (size_t i = 0; i < size; ++i) {
            m_h ^= p[i];
            m_h *= kPrime;
        }
    }
    void field(std::string_view s) {
        const uint64_t n = s.size();
        bytes(&n, sizeof n);
        bytes(s.data(), s.size());
    }
    std::string hex() const {
        return fmt::format("{:016x}{:016x}", uint64_t(m_h >> 64), uint64_t(m_h));
    }

  private:
    static constexpr unsigned __int128 kPrime =
        (unsigned __int128)(1) << 88 | (unsigned __int128)(0x13b);
    unsigned __int128 m_h =
        (unsigned __int128)(0x6c62272e07bb0142ull) << 64 | 0x62b821756295c58dull;
};

// The whole file in one read (a lookup reads its entry and every header the entry names).
std::optional<std::string> read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) {
        return std::nullopt;
    }
    const std::streamoff size = in.tellg();
    if (size < 0 || !in.seekg(0)) {
        return std::nullopt;
    }
    std::string text(size_t(size), '\0');
    if (!in.read(text.data(), size)) {
        return std::nullopt;
    }
    return text;
}

std::optional<std::string> hash_file(const fs::path& path) {
    auto text = read_text(path);
    if (!text) {
        return std::nullopt;
    }
    Hash128 h;
    h.field(*text);
    return h.hex();
}

// Writes `contents` to `path` atomically: a unique temporary file in the same directory, then
// rename(2).
void write_atomically(const fs::path& path, std::string_view contents) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    std::string temp = (path.parent_path() / (path.filename().string() + ".XXXXXX")).string();
    const int fd = mkstemp(temp.data());
    if (fd < 0) {
        return;
    }
    size_t done = 0;
    while (done < contents.size()) {
        const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
        if (n <= 0) {
            break;
        }
        done += size_t(n);
    }
    const bool ok = done == contents.size() && ::close(fd) == 0;
    if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
        ::unlink(temp.c_str());
    }
}

} // namespace

std::optional<fs::path> CompileCache::default_dir() {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
        return fs::path(xdg) / "klpemu";
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
        return fs::path(home) / ".cache" / "klpemu";
    }
    return std::nullopt;
}

Result<std::string> CompileCache::hash_key(const std::vector<std::string>& argv,
                                           const std::function<Result<std::string>()>& version,
                                           const std::vector<std::string_view>& inputs) const {
    Hash128 h;
    h.field(kMagic);
    // The compiler: its binary's identity, and the version text kept per identity.
    std::error_code ec;
    const fs::path compiler = fs::canonical(argv.at(0), ec);
    struct stat st {};
    std::string identity = compiler.string();
    if (!ec && ::stat(compiler.c_str(), &st) == 0) {
        identity += fmt::format(" {} {}.{}", st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
    Hash128 id;
    id.field(identity);
    const fs::path version_file = m_dir / "compilers" / id.hex();
    std::optional<std::string> version_text = read_text(version_file);
    if (!version_text) {
        auto v = version();
        if (!v.ok()) {
            return v.error();
        }
        version_text = identity + "\n" + *v;
        write_atomically(version_file, *version_text);
    }
    h.field(*version_text);
    for (size_t i = 1; i < argv.size(); ++i) {
        h.field(argv[i]);
    }
    for (std::string_view input : inputs) {
        h.field(input);
    }
    return h.hex();
}

Result<std::string> CompileCache::key(const std::vector<std::string>& argv, const fs::path& source,
                                      const std::function<Result<std::string>()>& version) const {
    std::error_code ec;
    const std::string cwd = fs::current_path(ec).string();
    const std::string path = fs::absolute(source, ec).string();
    auto text = read_text(source);
    if (!text) {
        return make_error("{}: error: cannot read file: {}", source.string(), std::strerror(errno));
    }
    return hash_key(argv, version, {cwd, path, *text});
}

Result<std::string>
CompileCache::key_for_text(const std::vector<std::string>& argv, std::string_view source_name,
                           std::string_view text,
                           const std::function<Result<std::string>()>& version) const {
    std::error_code ec;
    const std::string cwd = fs::current_path(ec).string();
    return hash_key(argv, version, {"text input", cwd, source_name, text});
}

std::optional<std::vector<uint8_t>> CompileCache::lookup(const std::string& key) const {
    auto entry = read_text(m_dir / "objects" / key.substr(0, 2) / key);
    if (!entry) {
        return std::nullopt;
    }
    std::istringstream in(*entry);
    std::string line;
    if (!std::getline(in, line) || line != kMagic) {
        return std::nullopt;
    }
    size_t headers = 0;
    if (!std::getline(in, line)) {
        return std::nullopt;
    }
    headers = std::strtoull(line.c_str(), nullptr, 10);
    for (size_t i = 0; i < headers; ++i) {
        if (!std::getline(in, line) || line.size() < 34 || line[32] != ' ') {
            return std::nullopt;
        }
        const auto now = hash_file(line.substr(33));
        if (!now || *now != line.substr(0, 32)) {
            return std::nullopt; // A header changed (or went away): compile again.
        }
    }
    if (!std::getline(in, line)) {
        return std::nullopt;
    }
    const size_t size = std::strtoull(line.c_str(), nullptr, 10);
    const size_t at = size_t(in.tellg());
    if (in.fail() || at + size != entry->size()) {
        return std::nullopt;
    }
    return std::vector<uint8_t>(entry->begin() + std::ptrdiff_t(at), entry->end());
}

void CompileCache::store(const std::string& key, const std::string& depfile_text,
                         std::span<const uint8_t> object) const {
    store_with_dependencies(key, parse_depfile(depfile_text), object);
}

void CompileCache::store_with_dependencies(const std::string& key,
                                           const std::vector<std::string>& dependencies,
                                           std::span<const uint8_t> object) const {
    std::string entry = fmt::format("{}\n", kMagic);
    std::string lines;
    size_t headers = 0;
    std::error_code ec;
    for (const std::string& dep : dependencies) {
        const std::string path = fs::absolute(dep, ec).string();
        const auto hash = hash_file(path);
        if (ec || !hash || path.find('\n') != std::string::npos) {
            return; // A dependency we cannot name or read again: do not cache.
        }
        lines += fmt::format("{} {}\n", *hash, path);
        ++headers;
    }
    entry += fmt::format("{}\n{}{}\n", headers, lines, object.size());
    entry.append(reinterpret_cast<const char*>(object.data()), object.size());
    write_atomically(m_dir / "objects" / key.substr(0, 2) / key, entry);
}

std::vector<std::string> parse_depfile(const std::string& text) {
    std::vector<std::string> out;
    std::string word;
    bool target_seen = false;
    auto flush = [&] {
        if (word.empty()) {
            return;
        }
        if (!target_seen) {
            if (word.back() == ':') {
                target_seen = true; // "out.o:" ends the target list.
            }
        } else if (word != ":") {
            out.push_back(word);
        }
        word.clear();
    };
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\\' && i + 1 < text.size() && text[i + 1] == '\n') {
            flush();
            ++i; // Line continuation.
        } else if (c == '\\' && i + 1 < text.size() && text[i + 1] == ' ') {
            word += ' ';
            ++i;
        } else if (c == '$' && i + 1 < text.size() && text[i + 1] == '$') {
            word += '$';
            ++i;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            flush();
        } else {
            word += c;
        }
    }
    flush();
    return out;
}

} // namespace klpemu
