// The SP alignment fault Unicorn omits: a load or store through a misaligned SP is a fatal
// `misaligned-sp` finding at the faulting instruction; ordinary frames never trigger it.
#include "machine_test_util.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::test;

TEST_CASE("machine: a store through a misaligned SP is a misaligned-sp finding") {
    auto m = make_machine();
    load_asm(*m, R"(
        .text
        .globl skew, fine
skew:   sub sp, sp, #8          // SP now 8 mod 16: allowed by itself...
        str x0, [sp]            // ...but using it as a base faults.
        add sp, sp, #8
        ret
fine:   stp x29, x30, [sp, #-32]!
        mov x29, sp
        str x0, [sp, #16]
        mov x9, sp
        mov sp, x9              // An SP write the machine re-checks: still aligned.
        ldr x0, [sp, #16]
        ldp x29, x30, [sp], #32
        ret
)");
    auto r = m->call(sym(*m, "skew"));
    CHECK_FALSE(r.ok());
    REQUIRE(m->findings().size() == 1);
    CHECK(m->findings()[0].kind == "misaligned-sp");
    CHECK(m->findings()[0].where == "skew+0x4");
    CHECK(m->findings()[0].severity == Severity::Fatal);

    auto ok = m->call(sym(*m, "fine"), {7});
    REQUIRE(ok.ok());
    CHECK(*ok == 7);
    CHECK(m->findings().size() == 1); // Nothing new.
}
