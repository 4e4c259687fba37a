// How long the bundled livepatch scenarios take (issue 16: `klpemu run scenarios/livepatch`
// must finish in seconds, the kernel's selftests under QEMU take minutes), against the whole
// bundled library in the same run, so the ratio stays comparable on a loaded machine. Runs the
// scenarios in process as `klpemu run` does (compile cache on: the second pass measures the
// emulation, not the compilers), prints wall seconds, simulated instructions and the ratio, and
// fails if any livepatch scenario does not pass (a fast wrong answer is no result).
#include "emu/compile_cache.h"
#include "scenarios/machine_backend.h"
#include "scenarios/runner.h"
#include "scenarios/scenario_discovery.h"

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace klpemu;
using namespace klpemu::scenario;

namespace {

struct Pass {
    double seconds = 0;
    uint64_t instructions = 0;
    size_t scenarios = 0;
    size_t not_passed = 0;
};

Pass run_all(const std::string& dir) {
    Pass pass;
    auto files = collect_scenarios({dir});
    if (!files) {
        std::fprintf(stderr, "%s\n", files.error().message.c_str());
        pass.not_passed = 1;
        return pass;
    }
    Runner runner(machine_backend_factory(UnwindRequest{}, CompileCache::default_dir()));
    const auto start = std::chrono::steady_clock::now();
    for (const auto& file : *files) {
        const ScenarioResult r = runner.run_file(file, RunOptions{});
        pass.instructions += r.instructions;
        pass.scenarios++;
        if (r.status != Status::Pass && r.status != Status::Skip) {
            std::fprintf(stderr, "not passed: %s\n", file.string().c_str());
            pass.not_passed++;
        }
    }
    pass.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return pass;
}

} // namespace

int main() {
    const std::string root = KLPEMU_SOURCE_ROOT;
    (void)run_all(root + "/scenarios/livepatch"); // Warm the compile cache.
    const Pass livepatch = run_all(root + "/scenarios/livepatch");
    const Pass library = run_all(root + "/scenarios");
    std::printf("livepatch_scenarios: %zu scenarios, %.2f s, %.1f M instructions\n",
                livepatch.scenarios, livepatch.seconds, double(livepatch.instructions) / 1e6);
    std::printf("whole_library: %zu scenarios, %.2f s, %.1f M instructions\n", library.scenarios,
                library.seconds, double(library.instructions) / 1e6);
    std::printf("livepatch_over_library: %.3f ratio\n", livepatch.seconds / library.seconds);
    return livepatch.not_passed == 0 ? 0 : 1;
}
