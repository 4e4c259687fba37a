// A content-addressed cache of compiled C objects, so that running the same scenarios again does
// not run the compiler again (the bundled library compiles the same few sources dozens of times).
// The role ccache plays for a kernel build, in its "direct mode":
//
//   entry key   hash of: the compiler's resolved path, size, mtime and its `--version` text;
//               every argument; the working directory; the source path and the source bytes
//   entry       the headers the compiler read (from its -MD dependency file) with a hash of
//               each one's bytes, then the object
//   hit         the entry exists and every listed header still hashes the same
//
// Entries are written to a temporary file in the cache directory and renamed into place, so
// parallel runs (ctest -j) never see half an entry; a reader that loses a race reads the other
// writer's whole entry or none. Only successful compiles are stored. The hash is 128-bit
// FNV-1a: not cryptographic (the inputs are the user's own files), wide enough that accidental
// collisions do not happen.
#pragma once

#include "emu/result.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu {

class CompileCache {
  public:
    // Entries live in `dir` (created on the first store).
    explicit CompileCache(std::filesystem::path dir) : m_dir(std::move(dir)) {}

    // $XDG_CACHE_HOME/klpemu, else $HOME/.cache/klpemu; nullopt when neither is set.
    static std::optional<std::filesystem::path> default_dir();

    // The entry key of compiling `source` with `argv` (compiler first, no output or source
    // path). `version` runs the compiler's --version; it is called only the first time a given
    // compiler binary (path, size, mtime) is seen, its answer is kept in the cache. Fails only if
    // the source cannot be read.
    Result<std::string> key(const std::vector<std::string>& argv,
                            const std::filesystem::path& source,
                            const std::function<Result<std::string>()>& version) const;

    // The key of a run whose input is `text` rather than a file: `argv` as above but with
    // nothing in it that changes from run to run (no temporary paths), `source_name` naming the
    // input as messages do. Used for preprocessing a generated or edited .S.
    Result<std::string> key_for_text(const std::vector<std::string>& argv,
                                     std::string_view source_name, std::string_view text,
                                     const std::function<Result<std::string>()>& version) const;

    // The object stored under `key`, if every header it was built from is unchanged.
    std::optional<std::vector<uint8_t>> lookup(const std::string& key) const;

    // Stores `object` under `key` with the headers named by the compiler's dependency file
    // `depfile_text` (make syntax). Best effort: a cache that cannot be written is skipped.
    void store(const std::string& key, const std::string& depfile_text,
               std::span<const uint8_t> object) const;

    // Stores `object` under `key` with `dependencies`, the files it was built from (absolute or
    // relative to the working directory). Best effort, as store().
    void store_with_dependencies(const std::string& key,
                                 const std::vector<std::string>& dependencies,
                                 std::span<const uint8_t> object) const;

    const std::filesystem::path& dir() const { return m_dir; }

  private:
    // The hash of: the magic, the compiler's identity and version, argv[1..], then `inputs`.
    Result<std::string> hash_key(const std::vector<std::string>& argv,
                                 const std::function<Result<std::string>()>& version,
                                 const std::vector<std::string_view>& inputs) const;

    std::filesystem::path m_dir;
};

// The files named as prerequisites in a make-syntax dependency file (the target is left out).
std::vector<std::string> parse_depfile(const std::string& text);

} // namespace klpemu
