// break FILE:LINE's resolution rules (emu/line_table.h) on hand-made line rows: files match by
// path tail at a '/', only is_stmt rows are breakpoint locations, a line gets one location per
// block of rows it owns, and every failure names the file.
#include "emu/line_table.h"

#include <doctest/doctest.h>

using namespace klpemu;

namespace {

LineRow row(uint64_t addr, const char* file, uint32_t line, bool is_stmt = true) {
    return LineRow{GuestAddr(addr), file, line, is_stmt, "obj"};
}

const std::vector<LineRow> kRows = {
    row(0x100, "/src/livepatch/busy.c", 9),     row(0x108, "/src/livepatch/busy.c", 11),
    row(0x10c, "/src/livepatch/busy.c", 11),    row(0x110, "/src/livepatch/busy.c", 13, false),
    row(0x114, "/src/livepatch/busy.c", 13),    row(0x118, "/src/livepatch/busy.c", 11),
    row(0x200, "/src/livepatch/vmlinux.c", 40), row(0x300, "/src/other/busy.c", 7),
};

} // namespace

TEST_CASE("line table: a line's locations are the first is_stmt row of each block") {
    auto r = addresses_for_line(kRows, "livepatch/busy.c", 11);
    REQUIRE(r.ok());
    CHECK(*r == std::vector<GuestAddr>{GuestAddr(0x108), GuestAddr(0x118)});
    auto stmt = addresses_for_line(kRows, "livepatch/busy.c", 13);
    REQUIRE(stmt.ok());
    CHECK(*stmt == std::vector<GuestAddr>{GuestAddr(0x114)}); // 0x110 is not is_stmt.
    auto vm = addresses_for_line(kRows, "vmlinux.c", 40);
    REQUIRE(vm.ok());
    CHECK(*vm == std::vector<GuestAddr>{GuestAddr(0x200)});
}

TEST_CASE("line table: files match by path tail at a slash; errors name the file") {
    CHECK_FALSE(addresses_for_line(kRows, "mlinux.c", 40).ok());
    auto two = addresses_for_line(kRows, "busy.c", 11);
    REQUIRE_FALSE(two.ok());
    CHECK(two.error().message.find("busy.c names 2 files") != std::string::npos);
    auto none = addresses_for_line(kRows, "livepatch/busy.c", 12);
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().message ==
          "no code at livepatch/busy.c:12 (nearest lines with code: 11 and 13)");
    auto unknown = addresses_for_line(kRows, "nosuch.c", 3);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().message ==
          "no line table for nosuch.c: source files with line tables: busy.c, vmlinux.c");
    auto empty = addresses_for_line({}, "busy.c", 3);
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error().message.find("no loaded object has one") != std::string::npos);
}
