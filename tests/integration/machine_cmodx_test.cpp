// The machine's half of concurrent modification of code (emu/stale_fetch.h,
// emu/text_poke_alias.h): which events are context-synchronising (an ISB with any option, IRQ
// entry, ERET, a user task's syscall entry and return), the `old` outcome (a CPU runs the word
// it still sees until its next synchronisation, memory's word after), and guest stores through
// the FIX_TEXT_POKE0 alias (reach text; without a mapping they are unmapped-access; into text's
// own mapping they stay protection-fault).
#include "emu/insn_encoding.h"
#include "machine_test_util.h"

#include <doctest/doctest.h>

#include <vector>

using namespace klpemu;
using namespace klpemu::emu;
using klpemu::test::load_asm;
using klpemu::test::make_machine;
using klpemu::test::sym;

namespace {

struct SyncCounter final : ExecutionObserver {
    std::vector<int> syncs = std::vector<int>(kMaxCpus, 0);
    void on_context_sync(int cpu) override { ++syncs[size_t(cpu)]; }
};

int findings_of(const Machine& m, std::string_view kind) {
    int n = 0;
    for (const Finding& f : m.findings()) {
        n += f.kind == kind ? 1 : 0;
    }
    return n;
}

} // namespace

TEST_CASE("cmodx: every ISB option is context-synchronising (reserved CRm executes as SY)") {
    // Arm ARM, ISB: CRm = 0b1111 is SY; every other CRm is reserved and executes as ISB SY.
    auto m = make_machine();
    load_asm(*m, R"(
        .text
        .globl barriers
barriers:
        isb
        .inst   0xd50330df      // isb #0
        .inst   0xd50333df      // isb #3
        .inst   0xd5033edf      // isb #14
        dsb     ish             // not context-synchronising
        mov     x0, #7
        ret
)");
    SyncCounter counter;
    m->add_observer(&counter);
    auto r = m->call(sym(*m, "barriers"));
    REQUIRE(r.ok());
    CHECK(*r == 7);
    CHECK(findings_of(*m, "undefined-instruction") == 0);
    CHECK(counter.syncs[0] == 4);
    CHECK(m->context_syncs(0) == 4);
    for (uint32_t crm = 0; crm < 16; ++crm) {
        CHECK(a64::is_isb(InsnWord(0xd50330df | (crm << 8))));
        CHECK(a64::is_cmodx_safe(InsnWord(0xd50330df | (crm << 8))));
    }
    CHECK_FALSE(a64::is_isb(InsnWord(0xd5033f9f))); // dsb sy
}

TEST_CASE("cmodx: a user task's syscall entry and return synchronise its CPU") {
    auto m = make_machine();
    load_asm(*m, R"(
        .text
        .globl sys_nothing
sys_nothing:
        mov     x0, #0
        ret
)");
    SyncCounter counter;
    m->add_observer(&counter);
    TaskSpec spec;
    spec.name = "user";
    spec.kind = TaskKind::User;
    spec.entry = sym(*m, "sys_nothing");
    spec.repeat = 3;
    REQUIRE(m->create_task(spec).ok());
    REQUIRE(m->run().ok());
    CHECK(counter.syncs[0] == 6); // Three SVC entries, three ERETs to EL0.
}

constexpr std::string_view kStaleSite = R"(
        .text
        .globl site, twice, new_target
site:
        nop                     // the host writes `b new_target` here
        mov     x0, #1
        ret
new_target:
        mov     x0, #2
        ret
twice:                          // site() + 10 * site() after an ISB
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        str     x19, [sp, #16]
        bl      site
        mov     x19, x0
        isb
        bl      site
        mov     x1, #10
        madd    x0, x0, x1, x19
        ldr     x19, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
)";

// Writes `b new_target` over site's NOP, leaves cpu0 seeing the NOP, returns twice().
uint64_t run_twice(StaleFetch outcome) {
    MachineConfig cfg;
    cfg.stale_fetch = outcome;
    auto m = make_machine(cfg);
    load_asm(*m, kStaleSite);
    const GuestAddr site = sym(*m, "site");
    const InsnWord b = a64::b(site, sym(*m, "new_target")).value();
    REQUIRE(m->write_text(site, b).ok());
    m->set_stale_view(0, site, a64::nop());
    auto r = m->call(sym(*m, "twice"));
    REQUIRE(r.ok());
    return *r;
}

TEST_CASE("cmodx: under `old` a CPU runs the word it still sees until its next ISB") {
    CHECK(run_twice(StaleFetch::Old) == 1 + 10 * 2); // The old NOP, then the new B.
    CHECK(run_twice(StaleFetch::New) == 2 + 10 * 2); // Memory's word both times.
}

TEST_CASE("cmodx: guest stores reach text only through FIX_TEXT_POKE0") {
    MachineConfig cfg;
    cfg.cpus = 2;
    auto m = make_machine(cfg);
    load_asm(*m, R"(
        .text
        .globl victim, patch_victim, poke_direct, poke_unmapped
victim:
        mov     x0, #1
        ret
patch_victim:                   // x0 = the new word
        stp     x29, x30, [sp, #-16]!
        mov     x29, sp
        mov     w1, w0
        adr     x0, victim
        bl      aarch64_insn_patch_text_nosync
        ldp     x29, x30, [sp], #16
        ret
poke_direct:                    // a store into text's own (r-x) mapping
        adr     x1, victim
        str     w0, [x1]
        ret
poke_unmapped:                  // a store into the slot with nothing mapped
        movz    x1, #0xfe00, lsl #16
        movk    x1, #0xfdff, lsl #32
        movk    x1, #0xffff, lsl #48
        str     w0, [x1]
        ret
)");
    const GuestAddr victim = sym(*m, "victim");
    CHECK(*m->call(victim) == 1);
    auto patched = m->call(sym(*m, "patch_victim"), {0xd2800060}); // mov x0, #3
    REQUIRE(patched.ok());
    CHECK(*patched == 0);
    CHECK(*m->call(victim, {}, 1) == 3); // The other CPU's translated code was dropped too.
    CHECK(findings_of(*m, "protection-fault") == 0);

    (void)m->call(sym(*m, "poke_direct"), {0xd2800080});
    CHECK(findings_of(*m, "protection-fault") == 1);
    (void)m->call(sym(*m, "poke_unmapped"), {0xd2800080});
    CHECK(findings_of(*m, "unmapped-access") == 1);
    CHECK(*m->call(victim) == 3);
}
