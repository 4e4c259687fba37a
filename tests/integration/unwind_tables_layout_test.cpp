// Turning the reliability check on must not change the code it checks. It once did twice over:
// C objects got -fasynchronous-unwind-tables only with the check (clang then schedules
// prologues differently), and their .eh_frame was placed in guest memory (a new rodata page
// that moved every later object). Here the same scenario is loaded with the check off and on,
// and the guest itself checksums the C code; the code and every address must be the same.
#include "scenarios/machine_backend.h"
#include "scenarios/scenario_parser.h"
#include "support/temp_dir.h"

#include <doctest/doctest.h>

#include <array>
#include <string>

using namespace klpemu;
using namespace klpemu::scenario;

namespace {

struct Loaded {
    uint64_t leaf = 0;
    uint64_t after = 0;    // A function in the object loaded after the C one.
    uint64_t checksum = 0; // Of chain.c's text, computed by the guest.
};

Loaded load(bool check_unwind, Compiler compiler) {
    const std::string chain = std::string(KLPEMU_SOURCE_ROOT) + "/scenarios/ftrace/chain.c";
    const std::string text = std::string("[machine]\ncheck_unwind = ") +
                             (check_unwind ? "true" : "false") + R"(
[[object]]
name = "chain"
kind = "kernel"
compiler = ")" + (compiler == Compiler::Clang ? "clang" : "gcc") +
                             R"("
source = ")" + chain + R"("

[[object]]
name = "after"
kind = "kernel"
asm = """
        .globl  checksum
checksum:                       // x0 = first word, x1 = number of words
        mov     x2, #0
1:      ldr     w3, [x0], #4
        eor     x2, x3, x2, ror #59
        subs    x1, x1, #1
        b.ne    1b
        mov     x0, x2
        ret
"""
)";
    klpemu::test::TempDir dir;
    auto scenario = parse_scenario_text(text, dir.path() / "s.toml");
    REQUIRE_MESSAGE(scenario.ok(), (scenario.ok() ? "" : scenario.error().message));
    auto backend = machine_backend_factory()(*scenario, nullptr);
    REQUIRE_MESSAGE(backend.ok(), (backend.ok() ? "" : backend.error().message));
    for (const auto& object : scenario->objects) {
        auto r = (*backend)->load_object(object);
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    }
    Loaded out;
    out.leaf = (*backend)->symbol_address("leaf").value();
    out.after = (*backend)->symbol_address("checksum").value();
    const uint64_t end = (*backend)->symbol_address("leaf_loop").value() + 0x40;
    const std::array<uint64_t, 2> args{out.leaf, (end - out.leaf) / 4};
    auto sum = (*backend)->call("checksum", args);
    REQUIRE_MESSAGE(sum.ok(), (sum.ok() ? "" : sum.error().message));
    REQUIRE(sum->stop == RunStop::Done);
    out.checksum = sum->value;
    return out;
}

} // namespace

TEST_CASE("the unwind check changes neither the compiled code nor the layout") {
    for (Compiler compiler : {Compiler::Clang, Compiler::Gcc}) {
        INFO("compiler ", compiler == Compiler::Clang ? "clang" : "gcc");
        const Loaded off = load(false, compiler);
        const Loaded on = load(true, compiler);
        CHECK(off.leaf == on.leaf);
        CHECK(off.after == on.after);
        CHECK(off.checksum == on.checksum);
        CHECK(off.checksum != 0);
    }
}
