// Assembled guest objects remembered by their input, for a process that boots many machines.
// Every boot assembles the same guest sources (the machine's entry and scheduler code, the
// text-poke code, the ftrace trampoline and support code of the era, livepatch's support code),
// and `klpemu run` boots one machine per scenario: before this memo, LLVM MC was ≈ 13 % of a
// warm library run. Assembly is a pure function of (source, file name, options), so the memo
// can never give another answer than assembling again; only successes are kept (a failure is
// assembled again so that its message is made the same way). Safe to share between threads.
#pragma once

#include "emu/assembler.h"
#include "emu/object_bytes.h"
#include "emu/result.h"

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace klpemu {

class AssemblyMemo {
  public:
    // assemble(source, file_name, options), from the memo when it was assembled before.
    Result<ObjectBytes> assemble(std::string_view source, std::string_view file_name,
                                 const AssemblerOptions& options = {});
    // Distinct inputs assembled so far.
    size_t size() const;

  private:
    mutable std::mutex m_mutex;
    std::unordered_map<std::string, ObjectBytes> m_objects; // Key: options, name, source.
};

} // namespace klpemu
