// Runs clang-19 / aarch64-linux-gnu-gcc as child processes. posix_spawn with an argument vector
// (never a shell, so file names need no quoting); stdout and stderr go to a file in a private
// temporary directory, which also receives the object. Nothing is left behind.
#include "emu/c_compiler.h"

#include "emu/assembler.h"
#include "emu/compile_cache.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <system_error>

extern char** environ;

namespace klpemu {
namespace {

namespace fs = std::filesystem;

Result<std::vector<uint8_t>> read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return make_error("{}: error: cannot read file: {}", path.string(), std::strerror(errno));
    }
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A mkdtemp directory removed when it goes out of scope. It is made on the first call of path():
// a compile that the cache answers needs none, and making and removing a directory costs more
// than the cache lookup itself (a warm library run makes hundreds of lookups).
class TempDir {
  public:
    TempDir() = default;
    ~TempDir() {
        if (!m_path.empty()) {
            std::error_code ec;
            fs::remove_all(m_path, ec);
        }
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    // The directory; empty if it cannot be created.
    const fs::path& path() const {
        if (!m_tried) {
            m_tried = true;
            std::string templ = (fs::temp_directory_path() / "klpemu-cc-XXXXXX").string();
            if (mkdtemp(templ.data()) != nullptr) {
                m_path = templ;
            }
        }
        return m_path;
    }

  private:
    mutable bool m_tried = false;
    mutable fs::path m_path;
};

struct ProcessResult {
    int exit_code = -1;
    std::string output; // stdout and stderr, interleaved as written.
};

// Runs argv[0] with argv (no shell); stdout and stderr are captured through `log_file`.
Result<ProcessResult> run_process(const std::vector<std::string>& argv, const fs::path& log_file) {
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        return make_error("{}: error: cannot run: {}", argv[0], std::strerror(rc));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return make_error("{}: error: waitpid failed: {}", argv[0], std::strerror(errno));
        }
    }
    ProcessResult result;
    if (auto log = read_file(log_file); log.ok()) {
        result.output.assign(log->begin(), log->end());
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

std::string compiler_path(Compiler c) { return c == Compiler::Gcc ? KLPEMU_GCC : KLPEMU_CLANG; }

// The compiler's `--version` text, for the compile cache's key (CompileCache::key asks for it
// only the first time it sees a compiler binary).
std::function<Result<std::string>()> version_of(const std::string& compiler, const TempDir& dir) {
    return [compiler, &dir]() -> Result<std::string> {
        if (dir.path().empty()) {
            return make_error("{}: error: cannot create a temporary directory", compiler);
        }
        auto v = run_process({compiler, "--version"}, dir.path() / "version.txt");
        return v.ok() ? Result<std::string>(v->output) : Result<std::string>(v.error());
    };
}

// Runs a compiler command whose product is `out`; returns the product's bytes.
Result<std::vector<uint8_t>> run_compiler(const std::vector<std::string>& argv, const TempDir& dir,
                                          const fs::path& out) {
    if (dir.path().empty()) {
        return make_error("{}: error: cannot create a temporary directory", argv.back());
    }
    KLP_TRY_ASSIGN(result, run_process(argv, dir.path() / "output.txt"));
    if (result.exit_code != 0) {
        std::string message = result.output;
        while (!message.empty() && message.back() == '\n') {
            message.pop_back();
        }
        if (message.empty()) {
            message = fmt::format("{}: error: {} exited with status {}", argv.back(), argv[0],
                                  result.exit_code);
        }
        return Error{message};
    }
    return read_file(out);
}

} // namespace

std::vector<std::string> default_compile_flags(Compiler compiler) {
    std::vector<std::string> flags;
    if (compiler == Compiler::Clang) {
        flags.push_back("--target=aarch64-linux-gnu");
    }
    // The subset of arm64 kbuild's KBUILD_CFLAGS that decides code generation (top-level
    // Makefile, arch/arm64/Makefile, CONFIG_FRAME_POINTER, CONFIG_DYNAMIC_FTRACE_WITH_ARGS).
    // Warnings and -nostdinc are left out: scenario sources bring no kernel headers of ours.
    // Unwind tables as with CONFIG_UNWIND_TABLES=y, always: they are the cfi policy's input,
    // and clang schedules prologues differently with them, so adding them only when a scenario
    // checks unwinding would change the code under test. The loader keeps .eh_frame out of
    // guest memory (emu/loader.cpp), so they do not move anything either.
    for (const char* f :
         {"-std=gnu11", "-O2", "-ffreestanding", "-fno-PIE", "-fno-common", "-fno-strict-aliasing",
          "-fno-delete-null-pointer-checks", "-fno-strict-overflow", "-fno-stack-protector",
          "-fno-stack-check", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls",
          "-mgeneral-regs-only", "-fasynchronous-unwind-tables", "-fpatchable-function-entry=2",
          "-c"}) {
        flags.push_back(f);
    }
    if (compiler == Compiler::Gcc) {
        flags.push_back("-mabi=lp64");
    }
    // Line tables, as CONFIG_DEBUG_INFO gives the kernel: the step debugger's `break FILE:LINE`
    // reads them (emu/line_table.h). Neither compiler lets -g change the code it generates, and
    // the debug sections are never placed in guest memory.
    flags.push_back(compiler == Compiler::Clang ? "-gline-tables-only" : "-g1");
    return flags;
}

std::vector<std::string> module_compile_flags(std::string_view module_name) {
    // kbuild's c_flags for an object linked into module `module_name` (scripts/Makefile.lib).
    return {"-DMODULE", fmt::format("-DKBUILD_MODNAME=\"{}\"", module_name),
            fmt::format("-DKBUILD_BASENAME=\"{}\"", module_name)};
}

Result<ObjectBytes> compile_c(const fs::path& file, const CompileOptions& options) {
    TempDir dir; // Made only if the compiler runs.
    std::vector<std::string> argv{compiler_path(options.compiler)};
    const auto flags = options.flags ? *options.flags : default_compile_flags(options.compiler);
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), options.extra_flags.begin(), options.extra_flags.end());
    // The object cache: a hit returns the stored object; a miss adds -MD to learn the headers.
    std::optional<CompileCache> cache;
    std::string key;
    if (options.cache_dir) {
        cache.emplace(*options.cache_dir);
        auto k = cache->key(argv, file, version_of(argv[0], dir));
        if (k.ok()) {
            key = *k;
            if (auto hit = cache->lookup(key)) {
                return ObjectBytes{file.filename().string(), std::move(*hit)};
            }
            if (dir.path().empty()) {
                key.clear(); // run_compiler reports the directory; nothing to store.
            } else {
                argv.insert(argv.end(), {"-MD", "-MF", (dir.path() / "deps.d").string()});
            }
        }
    }
    const fs::path out = dir.path() / "out.o";
    argv.insert(argv.end(), {"-o", out.string(), file.string()});
    auto bytes = run_compiler(argv, dir, out);
    if (!bytes.ok()) {
        return bytes.error();
    }
    if (!key.empty()) {
        if (auto deps = read_file(dir.path() / "deps.d"); deps.ok()) {
            cache->store(key, std::string(deps->begin(), deps->end()), *bytes);
        }
    }
    return ObjectBytes{file.filename().string(), std::move(*bytes)};
}

Result<ObjectBytes> load_source_file(const fs::path& file, const CompileOptions& options) {
    const std::string ext = file.extension().string();
    const std::string name = file.filename().string();
    if (ext == ".c") {
        return compile_c(file, options);
    }
    if (ext == ".o") {
        auto bytes = read_file(file);
        if (!bytes.ok()) {
            return bytes.error();
        }
        return ObjectBytes{name, std::move(*bytes)};
    }
    if (ext == ".s" || ext == ".S") {
        std::vector<uint8_t> text;
        if (ext == ".s") {
            auto bytes = read_file(file);
            if (!bytes.ok()) {
                return bytes.error();
            }
            text = std::move(*bytes);
        } else {
            // Preprocess only, as kbuild does a .S; line markers stay so assembler errors name
            // FILE:LINE.
            KLP_TRY_ASSIGN(preprocessed, preprocess_assembly(file, {}, options.extra_flags,
                                                             std::nullopt, options.cache_dir));
            text.assign(preprocessed.begin(), preprocessed.end());
        }
        return assemble(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()),
                        name);
    }
    return make_error("{}: error: unknown source kind '{}' (expected .c, .S, .s or .o)",
                      file.string(), ext);
}

namespace {

// Every occurrence of `from` in `text` replaced by `to`.
void replace_all(std::string& text, std::string_view from, std::string_view to) {
    if (from.empty()) {
        return;
    }
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
        text.replace(at, from.size(), to);
        at += to.size();
    }
}

} // namespace

Result<std::string> preprocess_assembly(const fs::path& file,
                                        const std::vector<GeneratedHeader>& headers,
                                        const std::vector<std::string>& flags,
                                        const std::optional<std::string>& text,
                                        const std::optional<fs::path>& cache_dir) {
    TempDir dir;
    if (dir.path().empty()) {
        return make_error("{}: error: cannot create a temporary directory", file.string());
    }
    const fs::path include = dir.path() / "include";
    for (const GeneratedHeader& h : headers) {
        const fs::path target = include / h.path;
        std::error_code ec;
        fs::create_directories(target.parent_path(), ec);
        std::ofstream out(target, std::ios::binary);
        out << h.text;
        if (!out) {
            return make_error("{}: error: cannot write {}", file.string(), target.string());
        }
    }
    fs::path input = file;
    if (text) {
        input = dir.path() / "src" / file.filename();
        std::error_code ec;
        fs::create_directories(input.parent_path(), ec);
        std::ofstream src(input, std::ios::binary);
        src << *text;
        if (!src) {
            return make_error("{}: error: cannot write {}", file.string(), input.string());
        }
    }
    const fs::path out = dir.path() / "out.s";
    std::vector<std::string> argv{KLPEMU_CLANG,
                                  "--target=aarch64-linux-gnu",
                                  "-E",
                                  "-x",
                                  "assembler-with-cpp",
                                  "-nostdinc",
                                  "-D__ASSEMBLY__",
                                  "-I" + include.string()};
    for (const std::string& f : flags) {
        if (f.starts_with("-I") || f.starts_with("-D") || f.starts_with("-U")) {
            argv.push_back(f);
        }
    }
    // What names the private directory is rewritten, so that the text (and a cache entry) is
    // the same in every run: the edited copy becomes `file`, the include directory "<klpemu>".
    auto stable = [&](std::string s) {
        if (text) {
            replace_all(s, input.string(), file.string());
        }
        replace_all(s, include.string(), "<klpemu>/include");
        return s;
    };
    // The cache key: the command without its temporary paths, each generated header, the input.
    std::optional<CompileCache> cache;
    std::string key;
    if (cache_dir) {
        cache.emplace(*cache_dir);
        std::vector<std::string> key_argv;
        for (const std::string& a : argv) {
            key_argv.push_back(stable(a));
        }
        for (const GeneratedHeader& h : headers) {
            key_argv.push_back(fmt::format("generated {} {}", h.path, h.text));
        }
        // An unreadable file gets no key (and so no lookup): the preprocessor names the error.
        auto k = text ? cache->key_for_text(key_argv, fs::absolute(file).string(), *text,
                                            version_of(argv[0], dir))
                      : cache->key(key_argv, file, version_of(argv[0], dir));
        if (k.ok()) {
            key = *k;
            if (auto hit = cache->lookup(key)) {
                return std::string(hit->begin(), hit->end());
            }
            argv.insert(argv.end(), {"-MD", "-MF", (dir.path() / "deps.d").string()});
        }
    }
    argv.insert(argv.end(), {"-o", out.string(), input.string()});
    auto bytes = run_compiler(argv, dir, out);
    if (!bytes.ok()) {
        return Error{stable(bytes.error().message)};
    }
    std::string result = stable(std::string(bytes->begin(), bytes->end()));
    if (!key.empty()) {
        if (auto deps = read_file(dir.path() / "deps.d"); deps.ok()) {
            // The private directory's files are in the key already (and gone after this run).
            std::vector<std::string> lasting;
            for (std::string& d : parse_depfile(std::string(deps->begin(), deps->end()))) {
                if (!fs::absolute(d).lexically_relative(dir.path()).string().starts_with("..")) {
                    continue;
                }
                lasting.push_back(std::move(d));
            }
            cache->store_with_dependencies(
                key, lasting,
                std::span(reinterpret_cast<const uint8_t*>(result.data()), result.size()));
        }
    }
    return result;
}

} // namespace klpemu
