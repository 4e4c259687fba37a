// The plain driver for the libFuzzer targets (parser_*, asm_*, elf_*): it calls the target's
// LLVMFuzzerTestOneInput on every file named (directories are read recursively, in sorted
// order), the way `fuzzer -runs=0 DIR` replays a corpus. It lets every compiler build the
// targets without libFuzzer's runtime, so the seed corpora and every crash reproducer in
// tests/data/fuzz-regressions/ run in each ctest build (gcc, ci, asan), while the libFuzzer
// builds of the same sources (the `fuzz` preset) do the long runs.
//
//   klpemu_fuzz_replay_TARGET PATH...    exit 0 when every input returned; 2 on bad usage
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::filesystem::path> inputs_under(const std::filesystem::path& path) {
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(path)) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
            if (entry.is_regular_file()) {
                files.push_back(entry.path());
            }
        }
    } else {
        files.push_back(path);
    }
    std::sort(files.begin(), files.end());
    return files;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    size_t replayed = 0;
    for (int i = 1; i < argc; ++i) {
        if (!std::filesystem::exists(argv[i])) {
            std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
            return 2;
        }
        for (const auto& file : inputs_under(argv[i])) {
            std::ifstream in(file, std::ios::binary);
            const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                             std::istreambuf_iterator<char>());
            // Printed before the call: a crash leaves the input that caused it on stderr.
            std::fprintf(stderr, "replay: %s\n", file.c_str());
            LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
            ++replayed;
        }
    }
    std::printf("%zu inputs replayed, none crashed\n", replayed);
    return replayed == 0 ? 1 : 0;
}
