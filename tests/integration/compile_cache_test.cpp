// The compiled-object cache (emu/compile_cache.h) with the real compiler: a second compile of the
// same source is served from the cache (proved by planting a marker in the stored object), a
// changed header or different flags compile again, failures are never stored, and `klpemu run`
// fills $XDG_CACHE_HOME/klpemu unless given --no-cache.
#include "emu/c_compiler.h"
#include "emu/compile_cache.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>

using namespace klpemu;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> entries(const fs::path& cache) {
    std::vector<fs::path> out;
    if (!fs::exists(cache / "objects")) {
        return out;
    }
    for (const auto& e : fs::recursive_directory_iterator(cache / "objects")) {
        if (e.is_regular_file()) {
            out.push_back(e.path());
        }
    }
    return out;
}

// Overwrites the last 8 bytes of a stored entry (inside the object) with a marker.
void plant_marker(const fs::path& entry) {
    std::fstream f(entry, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(-8, std::ios::end);
    f.write("MARKER!!", 8);
}

bool ends_with_marker(const ObjectBytes& o) {
    return o.bytes.size() >= 8 && std::equal(o.bytes.end() - 8, o.bytes.end(),
                                             reinterpret_cast<const uint8_t*>("MARKER!!"));
}

} // namespace

TEST_CASE("compile cache: hit after a compile, miss after a header or flag change") {
    test::TempDir dir;
    const fs::path cache = dir.path() / "cache";
    dir.write("inc/value.h", "#define VALUE 41\n");
    const fs::path src =
        dir.write("f.c", "#include \"inc/value.h\"\nint f(void) { return VALUE; }\n");
    CompileOptions opts;
    opts.cache_dir = cache;
    opts.extra_flags = {"-I" + dir.path().string()};

    auto first = compile_c(src, opts);
    REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.error().message));
    const auto stored = entries(cache);
    REQUIRE(stored.size() == 1);
    CHECK(!ends_with_marker(*first));

    plant_marker(stored[0]);
    auto second = compile_c(src, opts);
    REQUIRE(second.ok());
    CHECK(ends_with_marker(*second)); // Served from the cache, not compiled.
    CHECK(second->name == "f.c");

    // The header changes: the entry no longer holds; the compiler runs and replaces it.
    dir.write("inc/value.h", "#define VALUE 42\n");
    auto third = compile_c(src, opts);
    REQUIRE(third.ok());
    CHECK(!ends_with_marker(*third));
    CHECK(third->bytes != first->bytes);
    CHECK(entries(cache).size() == 1);

    // Different flags: a different entry.
    opts.extra_flags.push_back("-O1");
    auto fourth = compile_c(src, opts);
    REQUIRE(fourth.ok());
    CHECK(entries(cache).size() == 2);

    // No cache directory: no lookup (the planted marker is not returned).
    plant_marker(entries(cache)[0]);
    plant_marker(entries(cache)[1]);
    opts.cache_dir.reset();
    auto uncached = compile_c(src, opts);
    REQUIRE(uncached.ok());
    CHECK(!ends_with_marker(*uncached));
}

TEST_CASE("compile cache: a hit makes no temporary directory") {
    // The compiler's private directory is made only when the compiler runs: with TMPDIR naming
    // no directory (so that making one would fail), a hit is still served.
    test::TempDir dir;
    const fs::path cache = dir.path() / "cache";
    const fs::path src = dir.write("g.c", "int g(void) { return 7; }\n");
    CompileOptions opts;
    opts.cache_dir = cache;
    REQUIRE(compile_c(src, opts).ok());
    REQUIRE(entries(cache).size() == 1);
    plant_marker(entries(cache)[0]);

    const char* old = std::getenv("TMPDIR");
    const std::string saved = old ? old : "";
    ::setenv("TMPDIR", (dir.path() / "no-such-directory").c_str(), 1);
    std::optional<Result<ObjectBytes>> hit;
    CHECK_NOTHROW(hit.emplace(compile_c(src, opts)));
    if (old) {
        ::setenv("TMPDIR", saved.c_str(), 1);
    } else {
        ::unsetenv("TMPDIR");
    }
    REQUIRE(hit.has_value());
    REQUIRE(hit->ok());
    CHECK(ends_with_marker(**hit));
}

TEST_CASE("compile cache: a failing compile is not stored") {
    test::TempDir dir;
    const fs::path cache = dir.path() / "cache";
    const fs::path src = dir.write("bad.c", "int f(void) { return missing; }\n");
    CompileOptions opts;
    opts.cache_dir = cache;
    CHECK(!compile_c(src, opts).ok());
    CHECK(entries(cache).empty());
    CHECK(!compile_c(src, opts).ok());
}

TEST_CASE("compile cache: dependency files in make syntax") {
    const auto deps = parse_depfile("/tmp/x/out.o: /src/a.c /inc/with\\ space.h \\\n  b.h \\\n"
                                    "  /inc/cost$$.h\n");
    CHECK(deps == std::vector<std::string>{"/src/a.c", "/inc/with space.h", "b.h", "/inc/cost$.h"});
}

TEST_CASE("compile cache: klpemu run fills $XDG_CACHE_HOME/klpemu, not with --no-cache") {
    test::TempDir dir;
    const std::string scenario =
        std::string(KLPEMU_SOURCE_ROOT) + "/scenarios/ftrace/function-tracer.toml";
    ::setenv("XDG_CACHE_HOME", (dir.path() / "xdg").c_str(), 1);
    const auto off = test::run_process({KLPEMU_BINARY, "run", "--no-cache", scenario});
    CHECK(off.exit_status == 0);
    CHECK(entries(dir.path() / "xdg" / "klpemu").empty());
    const auto on = test::run_process({KLPEMU_BINARY, "run", scenario});
    const auto again = test::run_process({KLPEMU_BINARY, "run", scenario});
    ::unsetenv("XDG_CACHE_HOME");
    INFO(on.err);
    CHECK(on.exit_status == 0);
    CHECK(again.exit_status == 0);
    CHECK(again.out == on.out);
    CHECK(!entries(dir.path() / "xdg" / "klpemu").empty());
}

// A preprocessed .S (an own entry-ftrace.S): the private include directory's random name never
// reaches the text or the key, so the second run is a hit; a changed generated header, a
// changed -I header or an edited text is a miss.
TEST_CASE("compile cache: preprocessed assembly is cached by its inputs, not its temp paths") {
    test::TempDir dir;
    const fs::path cache = dir.path() / "cache";
    dir.write("inc/user.h", "#define USER_VALUE 3\n");
    const fs::path src =
        dir.write("entry.S", "#include <asm/gen.h>\n#include \"user.h\"\n    mov x0, #GEN_VALUE\n"
                             "    mov x1, #USER_VALUE\n");
    std::vector<GeneratedHeader> headers{{"asm/gen.h", "#define GEN_VALUE 7\n"}};
    const std::vector<std::string> flags{"-I" + (dir.path() / "inc").string()};

    auto first = preprocess_assembly(src, headers, flags, std::nullopt, cache);
    REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.error().message));
    CHECK(first->find("mov x0, #7") != std::string::npos);
    CHECK(first->find("<klpemu>/include/asm/gen.h") != std::string::npos);
    CHECK(first->find("klpemu-cc-") == std::string::npos); // No temporary path.
    auto uncached = preprocess_assembly(src, headers, flags);
    REQUIRE(uncached.ok());
    CHECK(*uncached == *first);
    const auto stored = entries(cache);
    REQUIRE(stored.size() == 1);

    plant_marker(stored[0]);
    auto second = preprocess_assembly(src, headers, flags, std::nullopt, cache);
    REQUIRE(second.ok());
    CHECK(second->ends_with("MARKER!!")); // Served from the cache.

    dir.write("inc/user.h", "#define USER_VALUE 4\n");
    auto user_changed = preprocess_assembly(src, headers, flags, std::nullopt, cache);
    REQUIRE(user_changed.ok());
    CHECK(user_changed->find("mov x1, #4") != std::string::npos);

    headers[0].text = "#define GEN_VALUE 8\n";
    auto generated_changed = preprocess_assembly(src, headers, flags, std::nullopt, cache);
    REQUIRE(generated_changed.ok());
    CHECK(generated_changed->find("mov x0, #8") != std::string::npos);

    // An edited text is its own input; its markers name the file it edits.
    const std::string edited = "#include <asm/gen.h>\n    mov x2, #GEN_VALUE\n";
    auto edit = preprocess_assembly(src, headers, flags, edited, cache);
    REQUIRE(edit.ok());
    CHECK(edit->find("mov x2, #8") != std::string::npos);
    CHECK(edit->find(fmt::format("\"{}\"", src.string())) != std::string::npos);
    auto edit_again = preprocess_assembly(src, headers, flags, edited, cache);
    REQUIRE(edit_again.ok());
    CHECK(*edit_again == *edit);
}
