// Unit tests of the ground-truth shadow stack: calls and returns, tail calls, a trampoline's
// `ret x9` into another function, the graph tracer's return_to_handler, exception frames, and
// the mismatches it records. Instructions are fed as the machine would, without a CPU.
#include "emu/insn_encoding.h"
#include "emu/symbol_table.h"
#include "unwinder/ground_truth.h"

#include <doctest/doctest.h>

#include <array>

using namespace klpemu;
using namespace klpemu::unwinder;

namespace {

constexpr GuestAddr kP{0xffff800008001000};
constexpr GuestAddr kF{0xffff800008002000};
constexpr GuestAddr kG{0xffff800008003000};
constexpr GuestAddr kNewF{0xffff800008004000};
constexpr GuestAddr kRth{0xffff800008005000};

struct Regs final : RegisterReader {
    std::array<uint64_t, 32> r{};
    uint64_t x(unsigned n) const override { return r[n]; }
};

SymbolTable make_symbols() {
    LoadedObject o;
    o.name = "test.o";
    for (auto [name, addr] : {std::pair{"P", kP},
                              {"F", kF},
                              {"G", kG},
                              {"new_F", kNewF},
                              {"return_to_handler", kRth}}) {
        o.symbols.push_back(Symbol{name, addr, 0x100, SymbolKind::Function, true, "test.o"});
    }
    o.sections.push_back(PlacedSection{
        ".text", SectionKind::Text, GuestRange{kP, kRth + 0x100}, 4, true, false, {}});
    SymbolTable t;
    t.add_object(o);
    return t;
}

struct Feeder {
    SymbolTable symbols = make_symbols();
    FunctionEntries entries{symbols};
    GroundTruth truth{entries, kRth};
    Regs regs;

    void insn(GuestAddr pc, InsnWord w) { truth.on_instruction(pc, classify(pc, w), regs); }
    void bl(GuestAddr pc, GuestAddr to) { insn(pc, a64::bl(pc, to).value()); }
    void b(GuestAddr pc, GuestAddr to) { insn(pc, a64::b(pc, to).value()); }
    void ret(GuestAddr pc, a64::Reg rn, GuestAddr to) {
        regs.r[rn] = to.value;
        insn(pc, a64::ret(rn));
    }
    std::vector<GuestAddr> list(GuestAddr pc) {
        std::vector<GuestAddr> out;
        truth.return_addresses(pc, out);
        return out;
    }
};

} // namespace

TEST_CASE("ground truth: calls push, returns pop, a tail call keeps the return address") {
    Feeder f;
    f.bl(kP + 0x10, kF);
    CHECK(f.list(kF) == std::vector<GuestAddr>{kF, kP + 0x14});
    f.b(kF + 0x20, kG); // Tail call: G returns straight to P.
    CHECK(f.truth.frames().back().callee == kG);
    CHECK(f.list(kG) == std::vector<GuestAddr>{kG, kP + 0x14});
    f.ret(kG + 0x8, 30, kP + 0x14);
    CHECK(f.truth.frames().empty());
    CHECK(f.truth.mismatches().empty());
    CHECK(f.truth.complete());
}

TEST_CASE("ground truth: `bl .+4` (a static link's call to an undefined weak) is no call") {
    Feeder f;
    f.bl(kP + 0x10, kF);
    CHECK(classify(kF + 0x8, a64::bl(kF + 0x8, kF + 0xc).value()).kind == BranchKind::None);
    f.bl(kF + 0x8, kF + 0xc); // Only x30 changes; F goes on and returns to P.
    CHECK(f.list(kF + 0xc) == std::vector<GuestAddr>{kF + 0xc, kP + 0x14});
    f.ret(kF + 0x20, 30, kP + 0x14);
    CHECK(f.truth.frames().empty());
    CHECK(f.truth.mismatches().empty());
}

TEST_CASE("ground truth: ftrace's ret x9 back into the body, or into a livepatched function") {
    Feeder f;
    f.bl(kP + 0x10, kF); // P calls F.
    f.bl(kF + 4, kG);    // F's patch site: bl ftrace_caller (G plays it).
    CHECK(f.list(kG + 8) == std::vector<GuestAddr>{kG + 8, kF + 8, kP + 0x14});
    SUBCASE("ret x9 = rec->ip + 4") {
        f.ret(kG + 0x40, 9, kF + 8);
        CHECK(f.list(kF + 8) == std::vector<GuestAddr>{kF + 8, kP + 0x14});
    }
    SUBCASE("ret x9 = new_func (livepatch)") {
        f.ret(kG + 0x40, 9, kNewF);
        CHECK(f.list(kNewF) == std::vector<GuestAddr>{kNewF, kP + 0x14});
        CHECK(f.truth.frames().back().callee == kNewF);
        f.ret(kNewF + 0x10, 30, kP + 0x14);
        CHECK(f.truth.frames().empty());
    }
    CHECK(f.truth.mismatches().empty());
}

TEST_CASE("ground truth: a graph-hijacked return keeps the real return address") {
    Feeder f;
    f.bl(kP + 0x10, kF);
    f.ret(kF + 0x30, 30, kRth); // x30 was replaced with return_to_handler.
    CHECK(f.list(kRth) == std::vector<GuestAddr>{kRth, kP + 0x14});
    f.bl(kRth + 0x10, kG); // ftrace_return_to_handler
    f.ret(kG + 0x10, 30, kRth + 0x14);
    f.ret(kRth + 0x30, 30, kP + 0x14);
    CHECK(f.truth.frames().empty());
    CHECK(f.truth.mismatches().empty());
}

TEST_CASE("ground truth: exception frames and mismatches") {
    Feeder f;
    f.bl(kP + 0x10, kF);
    f.truth.on_exception_entry(kF + 0x8);
    f.bl(kG, kG + 0x80); // Handler code calls into the IRQ handler.
    CHECK(f.list(kG + 0x80) == std::vector<GuestAddr>{kG + 0x80, kG + 4, kF + 8, kP + 0x14});
    CHECK(f.truth.exception_depth() == 1);
    f.ret(kG + 0x90, 30, kG + 4);
    f.truth.on_exception_return(kG + 0x10, kF + 0x8);
    CHECK(f.truth.exception_depth() == 0);
    CHECK(f.truth.mismatches().empty());

    f.ret(kF + 0x40, 30, kG + 0x44); // Not where P's call returns, not a function entry.
    REQUIRE(f.truth.mismatches().size() == 1);
    CHECK(f.truth.mismatches()[0].expected == kP + 0x14);
    f.ret(kP + 0x40, 30, kG + 0x44); // Returns past the first frame: the truth started late.
    CHECK_FALSE(f.truth.complete());
}

TEST_CASE("branch classes: calls, returns, jumps and stores") {
    const GuestAddr pc = kP;
    CHECK(classify(pc, a64::blr(4)).kind == BranchKind::Call);
    CHECK(classify(pc, a64::blr(4)).rn == 4);
    CHECK(classify(pc, a64::br(16)).kind == BranchKind::Jump);
    CHECK(classify(pc, a64::ret()).kind == BranchKind::Ret);
    CHECK(classify(pc, InsnWord(0xd65f0bff)).kind == BranchKind::Ret); // retaa
    CHECK(classify(pc, a64::stp_pre(29, 30, 31, -16)).may_write_memory);
    CHECK_FALSE(classify(pc, a64::ldp_post(29, 30, 31, 16)).may_write_memory);
    CHECK(classify(pc, InsnWord(0xf90003e0)).may_write_memory);       // str x0, [sp]
    CHECK_FALSE(classify(pc, InsnWord(0xf94003e0)).may_write_memory); // ldr x0, [sp]
    CHECK(classify(pc, InsnWord(0x3d8003e0)).may_write_memory);       // str q0, [sp]
    CHECK(classify(pc, a64::hvc(1)).may_write_memory);
    CHECK_FALSE(classify(pc, a64::nop()).may_write_memory);
}

TEST_CASE("branch classes: which instructions may change sp, x29 or x30") {
    const GuestAddr pc = kP;
    const auto writes = [&](uint32_t w) { return classify(pc, InsnWord(w)).writes_frame_regs(); };
    CHECK(writes(0xa9bf7bfd));       // stp x29, x30, [sp, #-16]!  (writeback)
    CHECK(writes(0x910003fd));       // mov x29, sp
    CHECK(writes(0xa8c17bfd));       // ldp x29, x30, [sp], #16
    CHECK(writes(0xd10083ff));       // sub sp, sp, #32
    CHECK(writes(0xf94007fd));       // ldr x29, [sp, #8]
    CHECK(writes(0xf81f8fe0));       // str x0, [sp, #-8]!
    CHECK(writes(0xd503233f));       // paciasp
    CHECK(writes(0xd50323bf));       // autiasp
    CHECK(writes(0xd538d09e));       // mrs x30, tpidr_el1
    CHECK(writes(0xaa0003fe));       // mov x30, x0
    CHECK(writes(a64::blr(4).raw));  // blr x4 (x30)
    CHECK(writes(0xd69f03e0));       // eret
    CHECK_FALSE(writes(0x91000400)); // add x0, x0, #1
    CHECK_FALSE(writes(0xf100041f)); // cmp x0, #1 (xzr, not sp)
    CHECK_FALSE(writes(0xf94003a9)); // ldr x9, [x29]
    CHECK_FALSE(writes(0xf900052a)); // str x10, [x9, #8]
    CHECK_FALSE(writes(0xd503201f)); // nop
    CHECK_FALSE(writes(0xd538d080)); // mrs x0, tpidr_el1
    CHECK_FALSE(writes(a64::ret().raw));
    CHECK_FALSE(writes(a64::br(16).raw));
}

TEST_CASE("branch classes: where a store writes") {
    const GuestAddr pc = kP;
    const auto store = [&](uint32_t w) { return classify(pc, InsnWord(w)).store; };
    StoreAccess s = store(0xa9bf7bfd); // stp x29, x30, [sp, #-16]!
    CHECK(s.mode == StoreMode::Offset);
    CHECK(s.rn == 31);
    CHECK(s.imm == -16);
    CHECK(s.size == 16);
    s = store(0xf900052a); // str x10, [x9, #8]
    CHECK(s.mode == StoreMode::Offset);
    CHECK(s.rn == 9);
    CHECK(s.imm == 8);
    CHECK(s.size == 8);
    s = store(0xb8004420); // str w0, [x1], #4
    CHECK(s.mode == StoreMode::Base);
    CHECK(s.rn == 1);
    CHECK(s.size == 4);
    s = store(0xf8227820); // str x0, [x1, x2, lsl #3]
    CHECK(s.mode == StoreMode::RegOffset);
    CHECK(s.rn == 1);
    CHECK(s.rm == 2);
    CHECK(s.shift == 3);
    CHECK(s.option == 3);
    s = store(0xad010460); // stp q0, q1, [x3, #32]
    CHECK(s.mode == StoreMode::Offset);
    CHECK(s.imm == 32);
    CHECK(s.size == 32);
    s = store(0xc8017c40); // stxr w1, x0, [x2]
    CHECK(s.mode == StoreMode::Base);
    CHECK(s.rn == 2);
    CHECK(store(0xf9400420).mode == StoreMode::None);   // ldr x0, [x1, #8]
    CHECK(store(a64::hvc(1).raw).mode == StoreMode::Unknown); // the host may write anything
    CHECK(store(0xd50b7420).mode == StoreMode::Unknown);      // dc zva, x0
}
