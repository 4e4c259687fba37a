// See kselftest_view.h.
#include "scenarios/kselftest_view.h"

#include "scenarios/shell_pids.h"

#include <array>

namespace klpemu::scenario {

namespace {

// A rewrite of a kept line into the expected text's spelling of a value that differs from run
// to run on a real kernel, applied in order. Hook for values the expected blocks write
// symbolically (test-syscall's `klp_pids=<PID1,PID2,...>`). Shadow-variable pointers need
// none: test_klp_shadow_vars prints them as PTR<n> ids itself (its ptr_id()), as on a kernel.
using LineRewrite = std::string (*)(std::string line);

constexpr std::array<LineRewrite, 1> k_rewrites{hide_klp_pids};

std::string rewritten(std::string line) {
    for (LineRewrite rewrite : k_rewrites) {
        line = rewrite(std::move(line));
    }
    return line;
}

} // namespace

bool kselftest_keeps(std::string_view line) {
    const bool keyword = line.find("livepatch:") != std::string_view::npos ||
                         line.find("test_klp") != std::string_view::npos;
    const bool taint = line.find("tainting kernel") != std::string_view::npos ||
                       line.find("taints kernel") != std::string_view::npos;
    return keyword && !taint;
}

std::string kselftest_view(const Transcript& t) {
    std::string out;
    const auto& lines = t.lines();
    const auto& kinds = t.kinds();
    for (size_t i = 0; i < lines.size(); ++i) {
        // The script's own `% ` lines are in the kernel log too, and go through the same grep.
        const bool logged = kinds[i] == LineKind::ShellLog || kinds[i] == LineKind::KernelLog;
        if (logged && kselftest_keeps(lines[i])) {
            out += rewritten(lines[i]);
            out += '\n';
        }
    }
    return out;
}

} // namespace klpemu::scenario
