// The call-site state machine builders: exact words, checks and range errors (reference §1, §11).
#include "emu/insn_encoding.h"
#include "patcher/ftrace_callsite.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::patcher;

namespace {

PatchSite site_at(GuestAddr func) {
    PatchSite s;
    s.function = "traced";
    s.function_addr = func;
    s.entry = func;
    s.first_nop = func;
    s.rec_ip = func + 4;
    return s;
}

} // namespace

TEST_CASE("ftrace call site: init, call, nop, modify words") {
    const GuestAddr func{0xffff800008001000};
    const GuestAddr tramp{0xffff800008000000};
    const PatchSite site = site_at(func);

    const TextPatch init = init_nop_patch(site);
    CHECK(init.pc == func);
    CHECK(init.expected_old == InsnWord(0xd503201f)); // nop
    CHECK(init.new_word == InsnWord(0xaa1e03e9));     // mov x9, x30
    CHECK(init.purpose == PatchPurpose::InitMovSlot);

    auto call = make_call_patch(site, tramp);
    REQUIRE(call.ok());
    CHECK(call->pc == func + 4);
    CHECK(call->expected_old == InsnWord(0xd503201f));
    CHECK(call->new_word == a64::bl(func + 4, tramp).value());
    CHECK(a64::is_bl(call->new_word));

    auto nop = make_nop_patch(site, tramp);
    REQUIRE(nop.ok());
    CHECK(nop->expected_old == call->new_word);
    CHECK(nop->new_word == InsnWord(0xd503201f));

    auto modify = modify_call_patch(site, tramp, tramp + 0x40);
    REQUIRE(modify.ok());
    CHECK(modify->expected_old == call->new_word);
    CHECK(modify->new_word == a64::bl(func + 4, tramp + 0x40).value());
}

TEST_CASE("ftrace call site: a trampoline beyond BL reach is an error, not a BRK") {
    const GuestAddr func{0xffff800100000000}; // a far module
    const GuestAddr tramp{0xffff800008000000};
    auto call = make_call_patch(site_at(func), tramp);
    REQUIRE_FALSE(call.ok());
    CHECK(call.error().message.find("traced") != std::string::npos);
    CHECK(break_fault_patch(site_at(func)).new_word == InsnWord(0xd4202000)); // brk #0x100
}
