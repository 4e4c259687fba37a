// Runs the built klpemu binary (KLPEMU_BINARY) for end-to-end command-line tests and captures
// its exit status and everything it printed (stdout, then stderr). Built on run_process().
#pragma once

#include "support/subprocess.h"

#include <sstream>
#include <string>
#include <vector>

namespace klpemu::test {

struct KlpemuRun {
    int status = -1; // Exit status, or -1 if the process did not exit normally.
    std::string output;
};

// Runs `KLPEMU_BINARY arguments` in `cwd` (empty: unchanged). Arguments are split at white
// space; no shell and no quoting, so paths must not contain spaces.
inline KlpemuRun run_klpemu(const std::string& arguments, const std::string& cwd = {}) {
    std::vector<std::string> argv{KLPEMU_BINARY};
    std::istringstream words(arguments);
    for (std::string w; words >> w;) {
        argv.push_back(w);
    }
    const ProcessResult p = run_process(argv, cwd);
    return KlpemuRun{p.exit_status, p.out + p.err};
}

} // namespace klpemu::test
