// The text guard (emu/text_guard.h, issue 18): a word Unicorn 2.0.1's translator would abort
// the process on must end as an `undefined-instruction` finding at its PC, wherever it sits
// (first in a block, ahead of the PC in a block, in data the guest branches to) and however
// it got there (loaded, written by the host through write_text or a GuestMemory store, patched
// by the guest through the text-poke alias), on every page the guest may execute. Each case here
// aborted the test process before the guard existed.
#include "machine_test_util.h"

#include "emu/insn_guard.h"

#include <doctest/doctest.h>

#include <array>
#include <csignal>
#include <cstdio>

#include <sys/wait.h>
#include <unistd.h>

using namespace klpemu;
using namespace klpemu::emu;
using klpemu::test::load_asm;
using klpemu::test::make_machine;
using klpemu::test::sym;

namespace {
// AdvSIMD two-register misc (FP16), opcode U:a:op = 0x53: unallocated; QEMU 5.0 prints
// "disas_simd_two_reg_misc_fp16: insn 0x2e793ac2 fpop 0x53" and aborts.
constexpr uint32_t kAbortingWord = 0x2e793ac2;
constexpr InsnWord kNop{0xd503201f};

const Finding* only_finding(const Machine& m) {
    REQUIRE(m.findings().size() == 1);
    return &m.findings().front();
}

// The call's task is killed by the finding, so Machine::call reports that it did not return.
void call_killed(Machine& m, GuestAddr fn, std::array<uint64_t, 8> args = {}, int cpu = 0) {
    auto r = m.call(fn, args, cpu);
    REQUIRE_FALSE(r.ok());
    INFO(r.error().message);
    CHECK(r.error().message.find("did not return") != std::string::npos);
}

void check_trapped_at(const Machine& m, GuestAddr pc) {
    const Finding* f = only_finding(m);
    CHECK(f->kind == "undefined-instruction");
    REQUIRE(f->pc);
    CHECK(*f->pc == pc);
    CHECK(f->message.find("2e793ac2") != std::string::npos);
}
} // namespace

TEST_CASE("guard: the classifier names the issue's word and leaves allocated words alone") {
    InsnClassifier c;
    CHECK(c.classify(InsnWord(kAbortingWord)) == WordClass::Unallocated);
    CHECK(c.classify(kNop) == WordClass::Runnable);
    CHECK(c.classify(InsnWord(0xd65f03c0)) == WordClass::Runnable); // ret
    CHECK(c.classify(InsnWord(0)) == WordClass::Runnable);          // udf #0: QEMU UDEFs it
    CHECK(c.classify(InsnWord(0x04a00000)) == WordClass::Runnable); // SVE add z0.s, z0.s, z0.s
    CHECK(c.classify(InsnWord(0x00010000)) == WordClass::Unallocated);
    // famax v8.8h, v1.8h, v5.8h (FEAT_FAMINMAX, 2023): allocated by later extensions, but the
    // translator aborts on it (AdvSIMD FP16 three-same) and Unicorn's max CPU lacks it.
    CHECK(c.classify(InsnWord(0x4ec51c28)) == WordClass::Unallocated);
    CHECK(c.classify(InsnWord(0x2ed93e2e)) == WordClass::Unallocated); // fscale (FEAT_FP8)
    CHECK(c.classify(InsnWord(0x1e602800)) == WordClass::Runnable);    // fadd d0, d0, d0
    CHECK(c.classify(InsnWord(0x0e401400)) == WordClass::Runnable);    // fadd v0.4h (FP16)
    // Cached answers agree with fresh ones.
    CHECK(c.classify(InsnWord(kAbortingWord)) == WordClass::Unallocated);
}

TEST_CASE("guard: an aborting word first in a block traps at its PC") {
    auto m = make_machine();
    load_asm(*m, R"(
        .text
        .globl f
f:      .inst 0x2e793ac2
        ret
)");
    call_killed(*m, sym(*m, "f"));
    check_trapped_at(*m, sym(*m, "f"));
}

TEST_CASE("guard: an aborting word ahead of the PC in the same block is never translated") {
    auto m = make_machine();
    load_asm(*m, R"(
        .text
        .globl f
f:      add     x0, x0, #1
        add     x0, x0, #2
        .inst   0x2e793ac2
        ret
)");
    call_killed(*m, sym(*m, "f"));
    check_trapped_at(*m, sym(*m, "f") + 8);
    // The two adds ran (the trapped word did not count as an instruction).
    CHECK(m->task(m->task_count() - 1).instructions >= 2);
}

TEST_CASE("guard: a host text write of an aborting word over translated code traps") {
    MachineConfig cfg;
    cfg.cpus = 2;
    auto m = make_machine(cfg);
    load_asm(*m, R"(
        .text
        .globl f
f:      mov     x0, #7
        ret
)");
    const GuestAddr f = sym(*m, "f");
    CHECK(*m->call(f, {}, 0) == 7);
    CHECK(*m->call(f, {}, 1) == 7);
    REQUIRE(m->write_text(f, InsnWord(kAbortingWord)).ok());
    call_killed(*m, f, {}, 1);
    check_trapped_at(*m, f);
    // Written back, the function runs again on both CPUs (no stale exit remains).
    REQUIRE(m->write_text(f, InsnWord(0xd28000e0)).ok()); // mov x0, #7
    CHECK(*m->call(f, {}, 0) == 7);
    CHECK(*m->call(f, {}, 1) == 7);
    CHECK(m->findings().size() == 1);
}

TEST_CASE("guard: a guest store of an aborting word into text faults; text stays as it was") {
    // Text is r-x (emu/memory_permissions.h): only TextPoke writes it, so a guest store of a
    // word the translator would abort on never lands and g keeps running its own word.
    auto m = make_machine();
    load_asm(*m, R"(
        .text
        .globl g, poke_g
g:      mov     x0, #3
        ret
poke_g: adr     x1, g           // x0: the word to store
        str     w0, [x1]
        ret
)");
    const GuestAddr g = sym(*m, "g");
    CHECK(*m->call(g) == 3); // g translated with the good word
    CHECK(!m->call(sym(*m, "poke_g"), {kAbortingWord}).ok());
    REQUIRE(m->findings().size() == 1);
    CHECK(m->findings()[0].kind == "protection-fault");
    CHECK(*m->call(g) == 3);
    CHECK(m->findings().size() == 1);
}

TEST_CASE("guard: an aborting word the guest patches in through FIX_TEXT_POKE0 traps") {
    // The one way the guest writes text: aarch64_insn_patch_text_nosync stores through the
    // alias page, which Unicorn maps r-- so the machine sees the store (a write-protection event
    // it allows) and writes text as the host would, classifying the word before it can run.
    auto m = make_machine();
    load_asm(*m, R"(
        .text
        .globl g, patch_g
g:      mov     x0, #3
        ret
patch_g:                        // x0: the word to patch in at g
        stp     x29, x30, [sp, #-16]!
        mov     x29, sp
        mov     w1, w0
        adr     x0, g
        bl      aarch64_insn_patch_text_nosync
        ldp     x29, x30, [sp], #16
        ret
)");
    const GuestAddr g = sym(*m, "g");
    CHECK(*m->call(g) == 3); // g translated with the good word
    auto patched = m->call(sym(*m, "patch_g"), {kAbortingWord});
    REQUIRE_MESSAGE(patched.ok(), patched.error().message);
    CHECK(m->findings().empty());
    call_killed(*m, g);
    check_trapped_at(*m, g);
}

TEST_CASE("guard: data pages are not guarded: a branch into data or a stack is a fetch fault") {
    // Strict RWX: .data and stacks are never executable, so the CPU faults on the fetch before
    // any translator sees the word (an A64 block never crosses a page), as the kernel's
    // instruction abort would. Words the host writes there (every ftrace record, task state)
    // therefore add no exits; an aborting word in data is harmless.
    auto m = make_machine();
    load_asm(*m, R"(
        .text
        .globl jump_data, jump_stack, jump_flag, flag, table
jump_flag:
        adr     x1, flag
        br      x1
jump_data:
        adr     x1, table
        br      x1
jump_stack:
        mov     x1, sp
        br      x1
        .data
        .p2align 2
table:  .word   0x2e793ac2
flag:   .word   0
)");
    const size_t exits_before = m->guard_trap_count();
    call_killed(*m, sym(*m, "jump_data"));
    const Finding* f = only_finding(*m);
    CHECK(f->kind == "protection-fault");
    CHECK(*f->pc == sym(*m, "table"));
    // A host store of an aborting word into data adds no trap.
    m->memory().store<uint32_t>(sym(*m, "flag"), kAbortingWord);
    CHECK(m->guard_trap_count() == exits_before);
    call_killed(*m, sym(*m, "jump_flag"));
    REQUIRE(m->findings().size() == 2);
    CHECK(m->findings().back().kind == "protection-fault");
    CHECK(*m->findings().back().pc == sym(*m, "flag"));
    call_killed(*m, sym(*m, "jump_stack"));
    REQUIRE(m->findings().size() == 3);
    CHECK(m->findings().back().kind == "protection-fault");
}

TEST_CASE("guard: a branch to any address is still a fetch fault, not a guard stop") {
    // Regression (fuzzer, machine mode): an always-present exit at address 1 turned `br x1`
    // with x1 = 1 into "stopped without a reason". Exits are exactly the trapping words.
    auto m = make_machine();
    load_asm(*m, R"(
        .text
        .globl jump
jump:   br      x0
)");
    call_killed(*m, sym(*m, "jump"), {1});
    const Finding* f = only_finding(*m);
    CHECK(f->kind == "unmapped-access");
}

TEST_CASE("guard: without the guard the issue's word aborts the process (in a child)") {
    // The reason the guard exists, kept honest: the same machine with text_guard off dies
    // with SIGABRT inside Unicorn's translator. Run in a forked child so this test survives.
    std::fflush(nullptr);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::freopen("/dev/null", "w", stderr);
        MachineConfig cfg;
        cfg.text_guard = false;
        auto m = Machine::create(cfg);
        if (!m || !(*m)->load_assembly(".text\n.globl f\nf: .inst 0x2e793ac2\nret\n", "t.S")) {
            _exit(3);
        }
        (void)(*m)->call(*(*m)->symbol("f"));
        _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGABRT);
}
