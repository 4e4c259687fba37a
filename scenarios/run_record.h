// What a scenario run observed, as data: the calls made by `call` steps and their results, the
// log lines, every finding, and the clock. Expectations are judged against this record only,
// so they can be tested without a machine.
#pragma once

#include "emu/finding.h"

#include <cstdint>
#include <string>
#include <vector>

namespace klpemu::scenario {

struct CallRecord {
    std::string function;
    std::vector<uint64_t> args; // Resolved values (symbols already turned into addresses).
    uint64_t result = 0;        // x0 on return.
    bool returned = true;       // False if the run stopped (budget, no tasks) first.
};

struct RunRecord {
    std::vector<CallRecord> calls;
    std::vector<std::string> log; // printk-style lines and `log` actions, in order.
    std::vector<Finding> findings;
    uint64_t instructions = 0;
    uint64_t cycles = 0;
};

} // namespace klpemu::scenario
