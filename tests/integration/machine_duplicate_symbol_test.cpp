// Kernel objects are one image: two strong definitions of a global symbol are an error naming
// both objects (the linker's "multiple definition"), not "the first one wins".
#include "machine_test_util.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::test;

TEST_CASE("two kernel objects defining one global symbol: an error naming both") {
    auto m = make_machine();
    load_asm(*m, ".globl twice\ntwice:\n    mov x0, #1\n    ret\n", "first.S");
    auto r = m->load_assembly(".globl twice\ntwice:\n    mov x0, #2\n    ret\n", "second.S");
    REQUIRE(!r.ok());
    CHECK(r.error().message ==
          "machine: kernel objects 'first.S' and 'second.S' both define global symbol 'twice' "
          "(multiple definition: make one static or rename it)");
    // The machine's own objects count too.
    auto s = m->load_assembly(".globl schedule\nschedule:\n    ret\n", "mine.S");
    REQUIRE(!s.ok());
    CHECK(s.error().message.find("'sched.S' and 'mine.S' both define global symbol 'schedule'") !=
          std::string::npos);
}

TEST_CASE("weak definitions, local symbols and modules do not collide") {
    auto m = make_machine();
    load_asm(*m, ".globl w\n.weak w\nw:\n    mov x0, #1\n    ret\nlocal_name:\n    ret\n", "a.S");
    load_asm(*m, ".globl w\nw:\n    mov x0, #2\n    ret\nlocal_name:\n    ret\n", "b.S");
    auto mod = m->load_assembly(".globl w\nw:\n    ret\n", "mod.S", ObjectKind::Module);
    CHECK_MESSAGE(mod.ok(), (mod.ok() ? "" : mod.error().message));
}
