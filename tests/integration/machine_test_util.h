// Helpers for the machine integration tests: build a machine and load a snippet of guest
// assembly, failing the test with the assembler's or loader's message.
#pragma once

#include "emu/machine.h"

#include <doctest/doctest.h>

#include <memory>
#include <string_view>

namespace klpemu::test {

inline std::unique_ptr<emu::Machine> make_machine(const emu::MachineConfig& config = {}) {
    auto m = emu::Machine::create(config);
    if (!m) {
        FAIL(m.error().message);
    }
    return std::move(*m);
}

inline void load_asm(emu::Machine& m, std::string_view source, std::string_view name = "test.S") {
    auto r = m.load_assembly(source, name);
    if (!r) {
        FAIL(r.error().message);
    }
}

inline GuestAddr sym(const emu::Machine& m, std::string_view name) {
    auto a = m.symbol(name);
    REQUIRE_MESSAGE(a.ok(), std::string(name));
    return *a;
}

} // namespace klpemu::test
