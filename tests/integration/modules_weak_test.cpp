// Calls to undefined weak functions, compiled by clang-19 and gcc at -O2, in a kernel object
// (the static-link rule: the branch goes to the next instruction) and in near and far modules
// (the module loader's: a PLT entry built by get_plt_entry for address 0, and the
// `undefined-weak-call` finding when it runs). Then every message the loader and the module
// loader produce for bad input carries exactly one "NAME: error:" prefix per line.
#include "emu/assembler.h"
#include "emu/c_compiler.h"
#include "emu/loader.h"
#include "emu/machine.h"
#include "patcher/module_plts.h"
#include "patcher/modules.h"

#include "integration/ftrace_test_util.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

using namespace klpemu;
using klpemu::test::findings_of;
using klpemu::test::findings_text;

namespace {

std::string scenario_source(std::string_view file) {
    return std::string(KLPEMU_SOURCE_ROOT) + "/scenarios/modules/" + std::string(file);
}

ObjectBytes compile(std::string_view file, Compiler compiler) {
    CompileOptions opts;
    opts.compiler = compiler;
    // The weak tail calls (JUMP26) are part of what is tested; kbuild's flags turn them off.
    opts.extra_flags = {"-foptimize-sibling-calls"};
    auto obj = compile_c(scenario_source(file), opts);
    REQUIRE_MESSAGE(obj.ok(), (obj.ok() ? "" : obj.error().message));
    return std::move(*obj);
}

std::unique_ptr<emu::Machine> machine_with_kernel(const ObjectBytes& kernel) {
    auto m = emu::Machine::create({});
    REQUIRE(m.ok());
    auto size = Loader::layout_size(kernel);
    REQUIRE(size.ok());
    auto base = (*m)->reserve_kernel_region(*size);
    REQUIRE(base.ok());
    auto loaded = Loader{}.load(kernel, *base, {}, (*m)->symbols());
    REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
    REQUIRE((*m)->load(*loaded).ok());
    return std::move(*m);
}

uint64_t call_ok(emu::Machine& m, std::string_view fn, uint64_t arg) {
    auto r = m.call(test::fn(m, fn), {arg});
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return *r;
}

const patcher::PltSlot* weak_slot(const patcher::Module& mod, std::string_view symbol) {
    for (const auto& slot : mod.plt.slots()) {
        const bool shared = std::find(slot.shared_with.begin(), slot.shared_with.end(), symbol) !=
                            slot.shared_with.end();
        if (slot.undefined_weak && (slot.symbol == symbol || shared)) {
            return &slot;
        }
    }
    return nullptr;
}

} // namespace

TEST_CASE("undefined weak calls: a kernel object loads and its calls fall through") {
    for (Compiler compiler : {Compiler::Clang, Compiler::Gcc}) {
        CAPTURE(test::compiler_name(compiler));
        auto m = machine_with_kernel(compile("weak_kernel.c", compiler));
        CHECK(call_ok(*m, "call_hook", 5) == 6);
        CHECK(call_ok(*m, "call_hook", 200) == 201); // bl .+4: the hook does nothing.
        CHECK(call_ok(*m, "tail_hook", 5) == 10);
        // clang calls the hook (bl .+4) and returns its x0; gcc tail-calls it (b .+4) and falls
        // into after_tail, the next function.
        CHECK(call_ok(*m, "tail_hook", 200) == (compiler == Compiler::Clang ? 200 : 199));
        CHECK_MESSAGE(m->findings().empty(), findings_text(*m));
    }
}

TEST_CASE("undefined weak calls: a near or far module loads, runs, and reports the call") {
    for (Compiler compiler : {Compiler::Clang, Compiler::Gcc}) {
        for (emu::Placement placement : {emu::Placement::Near, emu::Placement::Far}) {
            CAPTURE(test::compiler_name(compiler));
            CAPTURE(placement == emu::Placement::Far);
            auto m = machine_with_kernel(compile("weak_kernel.c", compiler));
            patcher::Modules modules(*m, {});
            patcher::ModuleSpec spec;
            spec.name = "weak_mod";
            spec.core.placement = placement;
            auto loaded = modules.load(compile("weak_mod.c", compiler), spec);
            REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
            const patcher::Module& mod = **loaded;

            // The weak hooks' entries, built as get_plt_entry builds it for address 0. Both hooks
            // resolve to 0, and module_emit_plt_entry reuses only the entry it made last (the
            // branch relocations are sorted by type, symbol, addend). Near, the hooks are the
            // only branches out of reach, emitted one after the other: they share an entry. Far,
            // kernel_scale's entries come between them: each hook gets its own.
            for (std::string_view hook : {"hook_fn", "hook_tail"}) {
                CAPTURE(hook);
                const patcher::PltSlot* slot = weak_slot(mod, hook);
                REQUIRE(slot != nullptr);
                CHECK(slot->target == GuestAddr(0));
                CHECK(slot->entry == patcher::plt_entry_as_kernel(patcher::PltFormat::AdrpAdd,
                                                                  slot->addr, GuestAddr(0)));
                CHECK(m->memory().load<uint32_t>(slot->addr) == slot->entry.insn[0].raw);
            }
            CHECK((weak_slot(mod, "hook_fn") == weak_slot(mod, "hook_tail")) ==
                  (placement == emu::Placement::Near));
            CHECK(mod.plt.used() <= mod.plt.max_entries());

            CHECK(call_ok(*m, "mod_call_hook", 5) == 16);
            CHECK(call_ok(*m, "mod_tail_hook", 5) == 15);
            CHECK_MESSAGE(m->findings().empty(), findings_text(*m));

            auto r = m->call(test::fn(*m, "mod_call_hook"), {200});
            CHECK_FALSE(r.ok()); // The PLT entry does not reach 0: the task dies.
            auto found = findings_of(*m, "undefined-weak-call");
            REQUIRE_MESSAGE(found.size() == 1, findings_text(*m));
            CHECK(found[0].message.find("'hook_fn'") != std::string::npos);
            CHECK(found[0].message.find("lr mod_call_hook+") != std::string::npos);
            CHECK(found[0].message.find("the entry branches to 0xffff800000000000") !=
                  std::string::npos);
            CHECK_MESSAGE(findings_of(*m, "plt-clobber").empty(), findings_text(*m));
            CHECK(found[0].where.find(".plt") != std::string::npos);

            r = m->call(test::fn(*m, "mod_tail_hook"), {200});
            CHECK_FALSE(r.ok());
            found = findings_of(*m, "undefined-weak-call");
            REQUIRE_MESSAGE(found.size() == 2, findings_text(*m));
            CHECK(found[1].message.find("'hook_tail'") != std::string::npos);
        }
    }
}

namespace {

ObjectBytes assemble_ok(std::string_view source, std::string_view name) {
    auto obj = assemble(source, name);
    REQUIRE_MESSAGE(obj.ok(), obj.error().message);
    return std::move(*obj);
}

// Each line reads "NAME: error: ..." and says "error:" once.
void check_one_prefix(const std::string& message, std::string_view name) {
    CAPTURE(message);
    size_t start = 0;
    while (start <= message.size()) {
        const size_t end = std::min(message.find('\n', start), message.size());
        const std::string line = message.substr(start, end - start);
        CHECK(line.starts_with(std::string(name) + ": error: "));
        size_t count = 0;
        for (size_t at = line.find("error:"); at != std::string::npos;
             at = line.find("error:", at + 1)) {
            ++count;
        }
        CHECK(count == 1);
        start = end + 1;
    }
}

constexpr std::string_view kCallsKernel = R"(
        .text
        .globl  far_fn
far_fn:
        bl      kernel_scale
        ret
)";

} // namespace

TEST_CASE("loader and module loader messages carry one prefix per line") {
    const ObjectBytes kernel = compile("weak_kernel.c", Compiler::Clang);

    // The module loader's own failures.
    {
        // A module 8 GiB away: its PLT entry for kernel_scale is beyond ADRP reach.
        auto m = machine_with_kernel(kernel);
        patcher::Modules modules(*m, {});
        patcher::ModuleSpec spec;
        spec.name = "too_far";
        spec.core = patcher::ModulePlace{emu::Placement::At, GuestAddr(0xffff800208000000)};
        auto loaded = modules.load(assemble_ok(kCallsKernel, "too_far.S"), spec);
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error().message.find("beyond ADRP reach") != std::string::npos);
        check_one_prefix(loaded.error().message, "too_far");
    }
    {
        // A reservation one short: plt-overflow.
        auto m = machine_with_kernel(kernel);
        patcher::ModuleOptions options;
        options.plt_reserve_adjust = -1;
        patcher::Modules modules(*m, options);
        patcher::ModuleSpec spec;
        spec.name = "short_mod";
        spec.core.placement = emu::Placement::Far;
        auto loaded = modules.load(assemble_ok(kCallsKernel, "short.S"), spec);
        REQUIRE_FALSE(loaded.ok());
        check_one_prefix(loaded.error().message, "short_mod");
        // Loaded twice.
        spec.name = "twice";
        spec.core.placement = emu::Placement::Near;
        REQUIRE(modules.load(assemble_ok(kCallsKernel, "twice.S"), spec).ok());
        auto again = modules.load(assemble_ok(kCallsKernel, "twice.S"), spec);
        REQUIRE_FALSE(again.ok());
        check_one_prefix(again.error().message, "twice");
        // An undefined symbol, named after the module.
        spec.name = "undef_mod";
        auto undef = modules.load(assemble_ok(R"(
        .text
f:      bl      nowhere
)",
                                              "undef.S"),
                                  spec);
        REQUIRE_FALSE(undef.ok());
        check_one_prefix(undef.error().message, "undef_mod");
    }

    // The loader's failures, one object each.
    const GuestAddr base(0xffff800008000000);
    const std::vector<std::string_view> bad_objects = {
        // Undefined symbols (two lines).
        ".text\nf: bl missing_a\n bl missing_b\n",
        // An unsupported relocation type.
        ".text\nf: .reloc 0, R_AARCH64_TLSLE_ADD_TPREL_LO12, g\n nop\n.data\ng: .quad 0\n",
        // A relocation outside its section.
        ".text\nf: nop\n.reloc 2, R_AARCH64_ABS32, f\n",
        // An overflow in an allocated section.
        ".text\nf: nop\n.data\n.word f\n",
        // A weak branch in a module without a PLT hook (out of range).
        ".weak w\n.text\nf: bl w\n",
        // A patch site that is not a NOP.
        ".text\n.globl f\n.type f, %function\nf: ret\n ret\n.size f, 8\n"
        ".section __patchable_function_entries,\"awo\",@progbits,f\n.quad f\n",
        // A common symbol.
        ".comm c, 8, 8\n.text\nf: adrp x0, c\n",
    };
    for (std::string_view source : bad_objects) {
        LoadOptions opts;
        opts.kind = ObjectKind::Module;
        auto loaded = Loader().load(assemble_ok(source, "bad.S"), base, opts, {});
        REQUIRE_FALSE(loaded.ok());
        check_one_prefix(loaded.error().message, "bad.S");
    }
    {
        auto loaded = Loader().load(assemble_ok(".text\nf: nop\n", "bad.S"), base + 4, {}, {});
        REQUIRE_FALSE(loaded.ok());
        check_one_prefix(loaded.error().message, "bad.S");
    }
    {
        ObjectBytes truncated = assemble_ok(".text\nf: nop\n", "bad.S");
        truncated.bytes.resize(100);
        auto loaded = Loader().load(truncated, base, {}, {});
        REQUIRE_FALSE(loaded.ok());
        check_one_prefix(loaded.error().message, "bad.S");
    }
}
