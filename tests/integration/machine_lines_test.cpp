// Machine::lines(): each object's DWARF line table is kept unread at load and read on the first
// call after it (the step debugger's `break FILE:LINE` is the only reader); an unloaded
// object's rows go, whether they were read yet or not.
#include "ftrace_test_util.h"

#include <algorithm>

using namespace klpemu;

namespace {

size_t rows_of(const emu::Machine& m, const std::string& object) {
    const auto& rows = m.lines();
    return size_t(std::count_if(rows.begin(), rows.end(),
                                [&](const LineRow& r) { return r.object == object; }));
}

} // namespace

TEST_CASE("machine: line tables are read when first asked for, and forgotten with their object") {
    auto m = emu::Machine::create({});
    REQUIRE(m.ok());
    emu::Machine& machine = **m;
    const size_t own_rows = machine.lines().size(); // The machine's own assembly.
    const LoadedObject first = test::load_c(machine, "chain.c", Compiler::Clang, false);
    REQUIRE(first.line_table != nullptr);
    const size_t first_rows = rows_of(machine, first.name);
    CHECK(first_rows > 0);
    const auto& rows = machine.lines();
    CHECK(rows.size() == own_rows + first_rows);
    CHECK(std::all_of(rows.begin() + int64_t(own_rows), rows.end(),
                      [](const LineRow& r) { return r.file.ends_with("/chain.c"); }));

    // Loaded after the first read: its rows come on the next call, after the first object's.
    const LoadedObject second = test::load_c(machine, "chain.c", Compiler::Gcc, false);
    REQUIRE(second.name == first.name); // Both are named for their source: forget_lines drops both.
    CHECK(rows_of(machine, first.name) > first_rows);

    // Unloaded before its table was read: neither its read rows nor its unread table survive.
    const LoadedObject third = test::load_c(machine, "chain.c", Compiler::Clang, false);
    machine.forget_lines(third.name);
    CHECK(rows_of(machine, first.name) == 0);
    CHECK(machine.lines().size() == own_rows);
}
