// The finding-kind registry (see finding_kinds.h): one table, sorted by id; a duplicate or
// misordered entry does not compile.
#include "emu/finding_kinds.h"

#include <algorithm>
#include <array>

namespace klpemu {

namespace {
constexpr std::array kKinds{
    FindingKind{"abi-clobber",
                "a trampoline returned with an AAPCS64 callee-visible register changed"},
    FindingKind{"bl-out-of-range", "an ftrace call site's BL cannot reach its trampoline"},
    FindingKind{"brk", "a BRK instruction was executed (the task is killed)"},
    FindingKind{"brk-at-callsite", "a BRK was executed at an ftrace call site"},
    FindingKind{"budget-exhausted",
                "the machine's instruction budget ran out with tasks still running"},
    FindingKind{"callops-order",
                "a CALL_OPS call site's BL went live before its ops literal named a callable ops"},
    FindingKind{"cmodx-unsafe",
                "live text was rewritten outside the Arm ARM's concurrent-modification set"},
    FindingKind{
        "consistency-violation",
        "a task executed a version of a livepatched function that does not match its patch_state"},
    FindingKind{"exec-freed-init", "a module's freed init text was executed"},
    FindingKind{"fgraph-mismatch",
                "return_to_handler found a graph return stack that does not match"},
    FindingKind{"ftrace-bug",
                "a call-site update failed the kernel's validation (ftrace_bug, ftrace disabled)"},
    FindingKind{"misaligned-sp", "a load or store through SP with SP not 16-byte aligned"},
    FindingKind{"mov-slot-rewritten",
                "the MOV X9, X30 slot of a call site was written after it ran"},
    FindingKind{
        "nonalloc-relocation",
        "a relocation in a non-allocated section (debug info) could not be applied (warning)"},
    FindingKind{"not-modelled",
                "guest code reached a kernel mechanism klpemu does not model yet (fatal)"},
    FindingKind{"patched-brk", "the BRK klpemu writes into patched text was executed"},
    FindingKind{"plt-clobber",
                "a module PLT entry was rewritten while a call through it was in flight"},
    FindingKind{"plt-overflow", "a module needed more PLT entries than its PLT section holds"},
    FindingKind{"premature-switch",
                "livepatch switched a task whose true stack held a function being replaced"},
    FindingKind{"protection-fault",
                "a store into read-only memory or an instruction fetch from non-executable memory"},
    FindingKind{"shadow-stack-mismatch",
                "a RET went somewhere the ground-truth shadow stack did not expect"},
    FindingKind{"stale-fetch",
                "a CPU executed a rewritten word it may still have seen in its old form"},
    FindingKind{"store-below-sp", "a store to the task's stack below its stack pointer"},
    FindingKind{"undefined-instruction",
                "an undefined instruction was executed (the task is killed)"},
    FindingKind{"undefined-weak-call",
                "a call through a module PLT entry for an undefined weak symbol executed"},
    FindingKind{"unexpected-svc", "an SVC was executed in kernel mode (the task is killed)"},
    FindingKind{"unknown-host-call",
                "an HVC with no host handler was executed (the task is killed)"},
    FindingKind{"unmapped-access", "a load, store or fetch at an address with no memory behind it"},
    FindingKind{"unsafe-force",
                "a forced livepatch transition switched a task whose true stack was not clean"},
    FindingKind{
        "unsound-reliable-trace",
        "an unwinder called a stack trace reliable that misses or misorders a return address"},
};

constexpr bool strictly_sorted() {
    for (size_t i = 1; i < kKinds.size(); ++i) {
        if (!(kKinds[i - 1].id < kKinds[i].id)) {
            return false;
        }
    }
    return true;
}
static_assert(strictly_sorted(), "finding kinds must be sorted by id and unique");
} // namespace

std::span<const FindingKind> finding_kinds() {
    return kKinds;
}

bool is_finding_kind(std::string_view id) {
    return std::any_of(kKinds.begin(), kKinds.end(),
                       [&](const FindingKind& k) { return k.id == id; });
}

std::string known_finding_kinds() {
    std::string out;
    for (const FindingKind& k : kKinds) {
        if (!out.empty()) {
            out += ", ";
        }
        out += k.id;
    }
    return out;
}

} // namespace klpemu
