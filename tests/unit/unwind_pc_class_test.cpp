// UnwindPolicy::pc_class's contract, checked on a synthetic stack: at two pcs of one class a
// policy answers alike (reliable flag, every entry past the first), each trace starting at its
// own pc. The per-step checker shares one memoised walk among the pcs of a class
// (reliability_checker.cpp), so a policy that walks two pcs of one class differently would make
// it report another pc's verdict.
#include "unwind_synthetic_stack.h"

#include "unwinder/unwind_policy.h"

#include <doctest/doctest.h>

#include <map>
#include <optional>

using namespace klpemu;
using namespace klpemu::unwinder;
using namespace klpemu::unwinder::test;

namespace {

struct Answer {
    bool reliable = false;
    std::optional<GuestAddr> first;
    std::vector<GuestAddr> rest; // Entries past the first.
};

// What a view needs besides the registers.
struct Setting {
    const SyntheticStack& stack;
    const CfiTable& cfi;
    const GraphReturnStack& graph;
};

// A policy's answer stopped at `pc`, with everything else as in `regs`.
Answer answer_at(const UnwindPolicy& policy, const Setting& at, StopKind kind, Registers regs,
                 GuestAddr pc) {
    regs.pc = pc;
    StackView view =
        kind == StopKind::Interrupted ? at.stack.interrupted(regs) : at.stack.blocked(regs);
    view.cfi = &at.cfi;
    view.graph = &at.graph;
    view.return_to_handler = kReturnToHandler;
    const UnwindResult r = policy.unwind(view);
    Answer a;
    a.reliable = r.reliable;
    if (!r.return_addresses.empty()) {
        a.first = r.return_addresses.front();
        a.rest.assign(r.return_addresses.begin() + 1, r.return_addresses.end());
    }
    return a;
}

} // namespace

TEST_CASE("unwind: pc classes: every pc of a class walks alike, starting at the pc") {
    SyntheticStack s;
    CfiTable cfi;
    const GuestAddr a_rec = s.record(s.pt_regs() - 16, s.final_record(), kRetFromForkRet);
    const GuestAddr b_rec = s.record(a_rec - 32, a_rec, kFuncA + 0x20);
    for (GuestAddr f : {kFuncA, kFuncB}) {
        cfi.add_rows(standard_frame_cfi(f));
    }
    // B was graph-traced and the graph tracer's entry for it is recoverable from B's record:
    // a task stopped at return_to_handler itself walks from B's original return address.
    VectorGraphStack graph;
    graph.entries_.push_back(GraphReturnEntry{kFuncA + 0x20, b_rec, kFuncB});

    // Every pc of B's four CFI rows, a pc no CFI covers, and return_to_handler.
    std::vector<GuestAddr> pcs;
    for (uint64_t off = 0; off < 0x100; off += 4) {
        pcs.push_back(kFuncB + int64_t(off));
    }
    pcs.push_back(kFuncC + 0x10);
    pcs.push_back(kReturnToHandler);

    const PcFacts facts{kReturnToHandler, &cfi};
    const Registers regs{kFuncB, kFuncA + 0x20, b_rec, b_rec};
    const Setting setting{s, cfi, graph};
    for (StopKind kind : {StopKind::Interrupted, StopKind::Blocked}) {
        for (std::string_view name : policy_names()) {
            CAPTURE(name);
            CAPTURE(int(kind));
            const std::unique_ptr<UnwindPolicy> policy = make_policy(name);
            std::map<std::optional<uint64_t>, std::pair<GuestAddr, Answer>> first_of_class;
            size_t classes_shared = 0;
            for (GuestAddr pc : pcs) {
                CAPTURE(pc.value);
                std::optional<uint64_t> cls;
                if (auto c = policy->pc_class(pc, kind, facts)) {
                    CHECK(c->is_aligned(4));
                    cls = c->value;
                }
                const Answer a = answer_at(*policy, setting, kind, regs, pc);
                auto [it, inserted] = first_of_class.try_emplace(cls, pc, a);
                if (!inserted) {
                    // Two pcs of one class: alike, and each trace starts at its own pc.
                    ++classes_shared;
                    const auto& [other_pc, other] = it->second;
                    CAPTURE(other_pc.value);
                    CHECK(a.reliable == other.reliable);
                    CHECK(a.rest == other.rest);
                    CHECK((!a.first || *a.first == pc));
                    CHECK((!other.first || *other.first == other_pc));
                }
            }
            CHECK(classes_shared > 0); // The test compares something for every policy.
        }
    }
}

TEST_CASE("unwind: pc classes: cfi by CFI row, kunwind apart only at return_to_handler") {
    CfiTable cfi;
    cfi.add_rows(standard_frame_cfi(kFuncB));
    const PcFacts facts{kReturnToHandler, &cfi};
    const std::unique_ptr<UnwindPolicy> c = make_policy("cfi");
    // Interrupted: the row of the pc itself; blocked: the pc is a return address, the row is
    // that of the call before it.
    CHECK(c->pc_class(kFuncB + 0x10, StopKind::Interrupted, facts) == kFuncB + 8);
    CHECK(c->pc_class(kFuncB + 0x20, StopKind::Interrupted, facts) == kFuncB + 8);
    CHECK(c->pc_class(kFuncB + 4, StopKind::Interrupted, facts) == kFuncB + 4);
    CHECK(c->pc_class(kFuncB + 8, StopKind::Blocked, facts) == kFuncB + 4);
    CHECK(c->pc_class(kFuncC, StopKind::Interrupted, facts) == kFuncC); // No row: its own.
    CHECK(c->pc_class(kFuncB, StopKind::Interrupted, PcFacts{kReturnToHandler, nullptr}) ==
          std::nullopt);

    const std::unique_ptr<UnwindPolicy> k = make_policy("kunwind");
    CHECK(k->pc_class(kFuncB + 0x10, StopKind::Interrupted, facts) == std::nullopt);
    CHECK(k->pc_class(kReturnToHandler, StopKind::Interrupted, facts) == kReturnToHandler);
    CHECK(k->pc_class(kReturnToHandler, StopKind::Blocked, facts) == kReturnToHandler);
    for (std::string_view name : {"fp-naive", "seed-v4"}) {
        CHECK(make_policy(name)->pc_class(kReturnToHandler, StopKind::Blocked, facts) ==
              std::nullopt);
    }
}
