// CfiTable on CFI bytes that real tools emitted: clang-19 assembled this function and ld.lld-19
// linked it at 0xffff800008000000 (.eh_frame landed at 0xffff800008010018); the bytes below are
// the linked sections, dumped with llvm-objcopy-19. The rows must give the right CFA, x29 and
// x30 rules in the prologue, the body and the epilogue.
//
//   f:  stp x29, x30, [sp, #-16]!    .cfi_def_cfa_offset 16; .cfi_offset w30,-8; w29,-16
//       mov x29, sp                  .cfi_def_cfa w29, 16
//       bl  g                        .cfi_def_cfa wsp, 16
//       ldp x29, x30, [sp], #16      .cfi_def_cfa_offset 0; .cfi_restore w30, w29
//       ret
//   g:  ret
#include "emu/cfi_table.h"

#include <doctest/doctest.h>

using namespace klpemu;

namespace {

constexpr GuestAddr kF{0xffff800008000000};
constexpr GuestAddr kG{0xffff800008000014};

const std::vector<uint8_t> kEhFrame = {
    0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x7a, 0x52, 0x00, 0x01, 0x7c,
    0x1e, 0x01, 0x1b, 0x0c, 0x1f, 0x00, 0x24, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00,
    0xcc, 0xff, 0xfe, 0xff, 0x14, 0x00, 0x00, 0x00, 0x00, 0x44, 0x0e, 0x10, 0x9e, 0x02,
    0x9d, 0x04, 0x44, 0x0c, 0x1d, 0x10, 0x44, 0x0c, 0x1f, 0x10, 0x44, 0x0e, 0x00, 0xde,
    0xdd, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0xb8, 0xff,
    0xfe, 0xff, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

const std::vector<uint8_t> kDebugFrame = {
    0x14, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x04, 0x00, 0x08, 0x00, 0x01, 0x7c, 0x1e, 0x0c,
    0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x08, 0x00, 0x80, 0xff, 0xff, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x44, 0x0e, 0x10, 0x9e, 0x02, 0x9d, 0x04, 0x44, 0x0c, 0x1d, 0x10, 0x44, 0x0c, 0x1f, 0x10, 0x44,
    0x0e, 0x00, 0xde, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x14, 0x00, 0x00, 0x08, 0x00, 0x80, 0xff, 0xff, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

void check_f_and_g(const CfiTable& t) {
    const CfiRule same{CfiRuleKind::SameValue, 0};
    const CfiRule fp_saved{CfiRuleKind::AtCfa, -16};
    const CfiRule ra_saved{CfiRuleKind::AtCfa, -8};

    const CfiRow* entry = t.find(kF);
    REQUIRE(entry != nullptr);
    CHECK(entry->cfa_base == CfaBase::Sp);
    CHECK(entry->cfa_offset == 0);
    CHECK(entry->ra == same);
    CHECK(entry->fp == same);

    const CfiRow* after_stp = t.find(kF + 4);
    REQUIRE(after_stp != nullptr);
    CHECK(after_stp->cfa_base == CfaBase::Sp);
    CHECK(after_stp->cfa_offset == 16);
    CHECK(after_stp->fp == fp_saved);
    CHECK(after_stp->ra == ra_saved);

    const CfiRow* body = t.find(kF + 8);
    REQUIRE(body != nullptr);
    CHECK(body->cfa_base == CfaBase::Fp);
    CHECK(body->cfa_offset == 16);
    CHECK(body->ra == ra_saved);

    const CfiRow* before_ldp = t.find(kF + 0xc);
    REQUIRE(before_ldp != nullptr);
    CHECK(before_ldp->cfa_base == CfaBase::Sp);
    CHECK(before_ldp->cfa_offset == 16);
    CHECK(before_ldp->ra == ra_saved);

    const CfiRow* at_ret = t.find(kF + 0x10);
    REQUIRE(at_ret != nullptr);
    CHECK(at_ret->cfa_base == CfaBase::Sp);
    CHECK(at_ret->cfa_offset == 0);
    CHECK(at_ret->ra == same); // Restored: the return address is back in x30.
    CHECK(at_ret->pcs == GuestRange{kF + 0x10, kG});

    const CfiRow* leaf = t.find(kG);
    REQUIRE(leaf != nullptr);
    CHECK(leaf->ra == same);
    CHECK(t.find(kG + 4) == nullptr);
    CHECK(t.find(kF - 4) == nullptr);
}

} // namespace

TEST_CASE("cfi table: .eh_frame from clang-19/ld.lld-19 gives prologue, body and epilogue rows") {
    CfiTable t;
    const Result<void> r =
        t.add_section(CfiSection{".eh_frame", GuestAddr(0xffff800008010018), kEhFrame});
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(t.rows().size() == 6);
    check_f_and_g(t);
}

TEST_CASE("cfi table: .debug_frame gives the same rows") {
    CfiTable t;
    const Result<void> r =
        t.add_section(CfiSection{".debug_frame", GuestAddr(0x1000000), kDebugFrame});
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    check_f_and_g(t);
}

TEST_CASE("cfi table: removing a module's range drops its rows") {
    CfiTable t;
    REQUIRE(t.add_section(CfiSection{".eh_frame", GuestAddr(0xffff800008010018), kEhFrame}).ok());
    t.remove_range(GuestRange{kG, kG + 4});
    CHECK(t.find(kG) == nullptr);
    CHECK(t.find(kF) != nullptr);
}

TEST_CASE("cfi table: garbage is an error, not a crash") {
    CfiTable t;
    const std::vector<uint8_t> junk = {0x10, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    CHECK_FALSE(t.add_section(CfiSection{".debug_frame", GuestAddr(), junk}).ok());
}
