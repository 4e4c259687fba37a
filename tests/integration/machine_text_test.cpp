// Text writes and determinism. A write through Machine::write_text must be seen by the next
// execution on every CPU even where Unicorn already translated the code (uc_mem_write never
// invalidates, reference §1.3), also when made from inside the code hook for the instruction
// stream being executed. The same seed must give the same interleaving, instruction by
// instruction; another seed another one.
#include "machine_test_util.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::emu;
using klpemu::test::load_asm;
using klpemu::test::make_machine;
using klpemu::test::sym;

namespace {
constexpr std::string_view kPatchable = R"(
        .text
        .globl patchme, straight, call_patchme
patchme:
        mov     x0, #1
        ret
straight:                       // one translation block: mov, mov, add, ret
        mov     x0, #1
        mov     x1, #0
        add     x0, x0, x1
        ret
call_patchme:                   // sum of x0 calls to patchme
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        stp     x19, x20, [sp, #16]
        mov     x19, x0
        mov     x20, #0
1:      bl      patchme
        add     x20, x20, x0
        subs    x19, x19, #1
        b.ne    1b
        mov     x0, x20
        ldp     x19, x20, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
)";
constexpr InsnWord kMovX0_2{0xd2800040};   // mov x0, #2
constexpr InsnWord kAddX0_5{0x91001400};   // add x0, x0, #5
} // namespace

TEST_CASE("machine: a text write is seen by the next execution on every CPU") {
    MachineConfig cfg;
    cfg.cpus = 2;
    auto m = make_machine(cfg);
    load_asm(*m, kPatchable);
    const GuestAddr f = sym(*m, "call_patchme");
    // Translate patchme on both CPUs.
    CHECK(*m->call(f, {10}, 0) == 10);
    CHECK(*m->call(f, {10}, 1) == 10);
    REQUIRE(m->write_text(sym(*m, "patchme"), kMovX0_2).ok());
    CHECK(m->memory().load<uint32_t>(sym(*m, "patchme")) == kMovX0_2.raw);
    CHECK(*m->call(f, {10}, 0) == 20);
    CHECK(*m->call(f, {10}, 1) == 20);
}

TEST_CASE("machine: a text write from the code hook applies to the running block") {
    auto m = make_machine();
    load_asm(*m, kPatchable);
    const GuestAddr straight = sym(*m, "straight");
    CHECK(*m->call(straight) == 1); // Translated once, unpatched.
    struct Patcher : ExecutionObserver {
        Machine* m = nullptr;
        GuestAddr at;
        bool done = false;
        void on_instruction(const InsnEvent& e) override {
            if (!done && e.pc == at) {
                done = true;
                REQUIRE(m->write_text(at + 8, kAddX0_5).ok());
            }
        }
    } p;
    p.m = m.get();
    p.at = straight;
    m->add_observer(&p);
    CHECK(*m->call(straight) == 6);
    CHECK(p.done);
    m->remove_observer(&p);
    CHECK(*m->call(straight) == 6);
}

namespace {
struct TraceHash : ExecutionObserver {
    uint64_t hash = 0xcbf29ce484222325ULL;
    uint64_t count = 0;
    void on_instruction(const InsnEvent& e) override {
        for (uint64_t v : {uint64_t(e.cpu), e.pc.value, uint64_t(e.task)}) {
            hash = (hash ^ v) * 0x100000001b3ULL;
        }
        ++count;
    }
};

constexpr std::string_view kShared = R"(
        .data
        .globl counter
counter: .quad 0
        .text
        .globl bump
bump:                           // x0 times: atomically add x1 to counter; returns the last value
        adrp    x2, counter
        add     x2, x2, :lo12:counter
1:      ldaddal x1, x3, [x2]
        subs    x0, x0, #1
        b.ne    1b
        mov     x0, x3
        ret
)";

std::pair<uint64_t, uint64_t> run_seeded(uint64_t seed) {
    MachineConfig cfg;
    cfg.cpus = 3;
    cfg.seed = seed;
    cfg.scheduling.kind = ScheduleKind::Random;
    cfg.scheduling.quantum = 13;
    auto m = make_machine(cfg);
    load_asm(*m, kShared);
    TraceHash th;
    m->add_observer(&th);
    for (int c = 0; c < 3; ++c) {
        REQUIRE(m->create_task({fmt::format("w{}", c), TaskKind::Kthread, sym(*m, "bump"),
                                {200, uint64_t(c + 1)}, c, 1})
                    .ok());
    }
    auto r = m->run();
    REQUIRE(r.ok());
    REQUIRE(r->reason == StopReason::AllTasksFinished);
    CHECK(m->memory().load<uint64_t>(sym(*m, "counter")) == 200 * (1 + 2 + 3));
    return {th.hash, th.count};
}
} // namespace

TEST_CASE("machine: same seed, same interleaving; another seed, another one") {
    auto a = run_seeded(1);
    auto b = run_seeded(1);
    auto c = run_seeded(2);
    CHECK(a == b);
    CHECK(a.first != c.first); // Interleaved differently (idle paths may differ in length).
}

TEST_CASE("machine: scripted switch points decide which CPU runs") {
    MachineConfig cfg;
    cfg.cpus = 2;
    cfg.scheduling.kind = ScheduleKind::Scripted;
    cfg.scheduling.switch_points = {{0, 1}, {50, 0}, {80, 1}};
    auto m = make_machine(cfg);
    load_asm(*m, kShared);
    struct FirstCpu : ExecutionObserver {
        std::vector<int> order;
        void on_instruction(const InsnEvent& e) override {
            if (order.empty() || order.back() != e.cpu) {
                order.push_back(e.cpu);
            }
        }
    } fc;
    m->add_observer(&fc);
    REQUIRE(m->create_task({"a", TaskKind::Kthread, sym(*m, "bump"), {100, 1}, 0, 1}).ok());
    REQUIRE(m->create_task({"b", TaskKind::Kthread, sym(*m, "bump"), {100, 1}, 1, 1}).ok());
    auto r = m->run();
    REQUIRE(r.ok());
    REQUIRE(fc.order.size() >= 3);
    CHECK(fc.order[0] == 1);
    CHECK(fc.order[1] == 0);
    CHECK(fc.order[2] == 1);
}
