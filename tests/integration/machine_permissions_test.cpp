// Strict kernel RWX: text is r-x, rodata r--, data/bss/stacks rw- and never executable. A
// guest store into text or rodata and a branch into data are `protection-fault` findings with
// the faulting PC and the address; the host's text writes (the TextPoke path) still work.
#include "machine_test_util.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::test;

namespace {

constexpr std::string_view kCode = R"(
        .text
        .globl  poke_text
poke_text:
        adrp    x1, poke_text
        add     x1, x1, :lo12:poke_text
        str     wzr, [x1]
        ret
        .globl  poke_rodata
poke_rodata:
        adrp    x1, constant
        add     x1, x1, :lo12:constant
        str     x0, [x1]
        ret
        .globl  poke_data
poke_data:
        adrp    x1, variable
        add     x1, x1, :lo12:variable
        str     x0, [x1]
        ldr     x0, [x1]
        ret
        .globl  jump_to_data
jump_to_data:
        adrp    x1, variable
        add     x1, x1, :lo12:variable
        br      x1
        .globl  read_text
read_text:
        adrp    x1, poke_text
        add     x1, x1, :lo12:poke_text
        ldr     w0, [x1]
        ret
        .section .rodata
constant:
        .quad   7
        .data
variable:
        .quad   0xd65f03c0              // ret, as data
)";

const Finding& only_finding(const emu::Machine& m) {
    REQUIRE(m.findings().size() == 1);
    return m.findings().front();
}

} // namespace

TEST_CASE("a store into text is a protection fault at the store, naming the address") {
    auto m = make_machine();
    load_asm(*m, kCode);
    const GuestAddr text = sym(*m, "poke_text");
    CHECK(!m->call(text).ok());
    const Finding& f = only_finding(*m);
    CHECK(f.kind == "protection-fault");
    CHECK(f.pc == text + 8);
    CHECK(f.message.find(fmt::format("protection fault on write of 4 bytes at {:#018x}",
                                     text.value)) != std::string::npos);
    CHECK(f.message.find("test.S:.text r-x") != std::string::npos);
    CHECK(m->memory().load<uint32_t>(text) != 0); // Not written.
}

TEST_CASE("a store into rodata faults; data is writable; text is readable") {
    auto m = make_machine();
    load_asm(*m, kCode);
    CHECK(!m->call(sym(*m, "poke_rodata"), {5}).ok());
    CHECK(only_finding(*m).kind == "protection-fault");
    CHECK(only_finding(*m).message.find("test.S:.rodata r--") != std::string::npos);
    auto data = m->call(sym(*m, "poke_data"), {0x1234});
    REQUIRE(data.ok());
    CHECK(*data == 0x1234);
    auto word = m->call(sym(*m, "read_text"));
    REQUIRE(word.ok());
    CHECK(*word == m->memory().load<uint32_t>(sym(*m, "poke_text")));
}

TEST_CASE("a branch into data is a protection fault on the fetch") {
    auto m = make_machine();
    load_asm(*m, kCode);
    CHECK(!m->call(sym(*m, "jump_to_data")).ok());
    const Finding& f = only_finding(*m);
    CHECK(f.kind == "protection-fault");
    const GuestAddr variable = *f.pc;
    CHECK(f.message.find(fmt::format("protection fault on fetch of 4 bytes at {:#018x}",
                                     variable.value)) != std::string::npos);
    CHECK(f.message.find("test.S:.data rw-") != std::string::npos);
}

TEST_CASE("text changes only through the host's text path, and then runs") {
    auto m = make_machine();
    load_asm(*m, ".globl f\nf:\n    mov x0, #1\n    ret\n");
    const GuestAddr f = sym(*m, "f");
    REQUIRE(m->write_text(f, InsnWord{0xd2800540}).ok()); // mov x0, #42
    auto r = m->call(f);
    REQUIRE(r.ok());
    CHECK(*r == 42);
    CHECK(m->permissions().at(f)->perm == emu::Perm::ReadExec);
}

TEST_CASE("stacks are not executable") {
    auto m = make_machine();
    load_asm(*m, ".globl f\nf:\n    mov x1, sp\n    sub x1, x1, #64\n    br x1\n");
    CHECK(!m->call(sym(*m, "f")).ok());
    CHECK(only_finding(*m).kind == "protection-fault");
    CHECK(only_finding(*m).message.find("fetch") != std::string::npos);
}

// arm64's map_kernel() maps vmlinux segment by segment and nothing after the image: a kernel
// address past the last loaded object is not mapped (emu/deferred_pages.h). Each loaded
// run of pages is its own mapping, so protecting an object never re-maps the image area.
TEST_CASE("the kernel image area is mapped only where objects were loaded") {
    auto m = make_machine();
    load_asm(*m, kCode);
    // Well past every object loaded so far, inside the 32 MiB area.
    const GuestAddr beyond = emu::kKernelBase + int64_t(emu::kKernelSize / 2);
    CHECK(m->memory().is_mapped(beyond)); // The host holds the whole area...
    const std::string read_beyond = fmt::format(R"(
        .globl read_beyond
read_beyond:
        movz    x1, #{:#x}, lsl #48
        movk    x1, #{:#x}, lsl #32
        movk    x1, #{:#x}, lsl #16
        ldr     x0, [x1]
        ret
)",
                                                beyond.value >> 48, (beyond.value >> 32) & 0xffff,
                                                (beyond.value >> 16) & 0xffff);
    load_asm(*m, read_beyond, "beyond.S");
    CHECK(!m->call(sym(*m, "read_beyond")).ok()); // ...but no CPU maps it.
    const Finding& f = only_finding(*m);
    CHECK(f.kind == "unmapped-access");
    CHECK(f.message.find(fmt::format("unmapped read of 8 bytes at {:#018x}", beyond.value)) !=
          std::string::npos);
    // Loaded pages keep working after another object was mapped next to them.
    auto data = m->call(sym(*m, "poke_data"), {7});
    REQUIRE(data.ok());
    CHECK(*data == 7);
    CHECK(m->permissions().at(sym(*m, "poke_data"))->perm == emu::Perm::ReadExec);
}
