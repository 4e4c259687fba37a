// The ground truth of the reliability checks (design.md §5, reference §8(d)): per task, a
// shadow call stack maintained from what actually executes, the list of return addresses the
// task will really use. No unwinder is consulted; it is what every unwinder is judged against.
//
//   BL/BLR                 push {return address = pc + 4, callee}
//   RET Xn                 pop; Xn must equal the popped return address, except:
//     Xn = return_to_handler   the graph tracer hijacked this return: the entry stays (the
//                              task will still get there, through return_to_handler's `ret`)
//     Xn = a function entry    the popped entry was a trampoline call whose `ret x9` enters
//                              another function (livepatch's new_func, a direct trampoline):
//                              the function below now returns where the original would have
//     anything else            a mismatch, recorded (the entry is popped to resync)
//   B/BR to a function entry   a tail call: return addresses unchanged
//   exception entry/return     push/pop an exception frame whose return address is ELR
//
// return_addresses() lists [pc, innermost return address, ..., outermost] (the exception
// frames' ELR included), the same shape as UnwindResult::return_addresses.
#pragma once

#include "emu/guest_addr.h"
#include "emu/insn_word.h"
#include "emu/symbol_table.h"
#include "unwinder/branch_class.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace klpemu::unwinder {

// Reads a register of the CPU at the current boundary: 0..30 = x0..x30, 31 = sp.
class RegisterReader {
  public:
    virtual ~RegisterReader() = default;
    virtual uint64_t x(unsigned n) const = 0;
};

// "Is this address a function's entry?", cached per address over a symbol table.
class FunctionEntries {
  public:
    explicit FunctionEntries(const SymbolTable& symbols) : m_symbols(symbols) {}
    bool is_entry(GuestAddr a);
    // Forget cached answers (objects were loaded or unloaded).
    void invalidate() { m_cache.clear(); }
    const SymbolTable& symbols() const { return m_symbols; }

  private:
    const SymbolTable& m_symbols;
    std::unordered_map<GuestAddr, bool> m_cache;
};

enum class ShadowKind { Call, Exception };

struct ShadowFrame {
    ShadowKind kind = ShadowKind::Call;
    GuestAddr return_address;     // Call: pc + 4 of the BL/BLR; Exception: ELR.
    GuestAddr callee;             // Call: the function entered (updated by tail calls).
    bool graph_returning = false; // Its RET went to return_to_handler.
    uint64_t content = 0;         // content_id() with this frame on top.
};

struct TruthMismatch {
    GuestAddr pc;                      // The RET or ERET.
    std::optional<GuestAddr> expected; // The popped return address (nullopt: stack was empty).
    GuestAddr actual;                  // Where it really went.
};

class GroundTruth {
  public:
    GroundTruth(FunctionEntries& entries, std::optional<GuestAddr> return_to_handler)
        : m_entries(entries), m_return_to_handler(return_to_handler) {}

    // Feeds the instruction about to execute at `pc` (registers as it will see them).
    void on_instruction(GuestAddr pc, const BranchClass& cls, const RegisterReader& regs);
    // The machine took an exception at `elr` (the interrupted pc).
    void on_exception_entry(GuestAddr elr);
    // ERET to `target`.
    void on_exception_return(GuestAddr pc, GuestAddr target);

    // Frames, outermost first.
    std::span<const ShadowFrame> frames() const { return m_frames; }
    // [pc, innermost return address, ..., outermost] into `out` (cleared first).
    void return_addresses(GuestAddr pc, std::vector<GuestAddr>& out) const;
    // Exception frames on the stack now.
    size_t exception_depth() const { return m_exception_depth; }
    // False once a return popped more than was pushed: the truth started too late.
    bool complete() const { return m_complete; }
    const std::vector<TruthMismatch>& mismatches() const { return m_mismatches; }
    // return_to_handler's address once the graph tracer is installed.
    void set_return_to_handler(std::optional<GuestAddr> a) { m_return_to_handler = a; }
    // The truth did not start with the task (attached late): never complete.
    void mark_incomplete() { m_complete = false; }
    // Bumped whenever the return-address list changes (for the checker's caches).
    uint64_t generation() const { return m_generation; }
    // Names the list of return addresses on the shadow stack now (0: empty): equal ids mean
    // equal lists, so a verdict computed against one list holds wherever the id comes back
    // (a loop calling the same functions). Ids are interned per (outer list, return address);
    // the table is bounded and forgets, after which an old list may get a new id (never an
    // old id for a new list).
    uint64_t content_id() const { return m_frames.empty() ? 0 : m_frames.back().content; }

  private:
    void ret_to(GuestAddr pc, GuestAddr target);
    void push(ShadowFrame frame);

    struct ContentKey {
        uint64_t outer;
        uint64_t return_address;
        bool operator==(const ContentKey&) const = default;
    };
    struct ContentKeyHash {
        size_t operator()(const ContentKey& k) const {
            const uint64_t h = (k.outer * 0x9e3779b97f4a7c15ull) ^ k.return_address;
            return size_t(h ^ (h >> 29));
        }
    };
    static constexpr size_t kMaxContentIds = 4096;

    FunctionEntries& m_entries;
    std::optional<GuestAddr> m_return_to_handler;
    std::vector<ShadowFrame> m_frames;
    std::vector<TruthMismatch> m_mismatches;
    size_t m_exception_depth = 0;
    bool m_complete = true;
    uint64_t m_generation = 0;
    std::unordered_map<ContentKey, uint64_t, ContentKeyHash> m_content_ids;
    uint64_t m_next_content_id = 1;
};

} // namespace klpemu::unwinder
