// Modules built by real compilers (clang-19 and aarch64-linux-gnu-gcc) loaded near and far from
// the kernel through patcher::Modules: the far load must emit exactly one PLT entry per distinct
// kernel callee and per memory, the near load none, and the module must compute the same
// results either way. Then each module check fires on its defect: a veneer that clobbers x9
// (plt-clobber), a reservation one short (plt-overflow), a call into freed init text
// (exec-freed-init), and the v6.5 init-text ftrace PLT regression.
#include "emu/c_compiler.h"
#include "emu/insn_encoding.h"
#include "emu/loader.h"
#include "emu/machine.h"
#include "patcher/ftrace.h"
#include "patcher/modules.h"

#include "integration/ftrace_test_util.h"

#include <doctest/doctest.h>

#include <cerrno>

#include <algorithm>
#include <set>
#include <string>

using namespace klpemu;
using klpemu::test::findings_of;
using klpemu::test::findings_text;

namespace {

std::string data(std::string_view file) {
    return std::string(KLPEMU_TEST_DATA) + "/modules/" + std::string(file);
}

ObjectBytes compile(std::string_view file, Compiler compiler) {
    CompileOptions opts;
    opts.compiler = compiler;
    auto obj = compile_c(data(file), opts);
    REQUIRE_MESSAGE(obj.ok(), (obj.ok() ? "" : obj.error().message));
    return std::move(*obj);
}

std::unique_ptr<emu::Machine> machine_with_kernel(Compiler compiler,
                                                  LoadedObject* kernel_out = nullptr) {
    auto m = emu::Machine::create({});
    REQUIRE(m.ok());
    const ObjectBytes kernel = compile("kernel.c", compiler);
    auto size = Loader::layout_size(kernel);
    REQUIRE(size.ok());
    auto base = (*m)->reserve_kernel_region(*size);
    REQUIRE(base.ok());
    auto loaded = Loader{}.load(kernel, *base, {}, (*m)->symbols());
    REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
    REQUIRE((*m)->load(*loaded).ok());
    if (kernel_out != nullptr) {
        *kernel_out = *loaded;
    }
    return std::move(*m);
}

// A machine with the test kernel and ftrace on `variant` as kernel `era` has it, the kernel's
// call sites recorded: what the module ftrace tests start from.
struct FtraceMachine {
    std::unique_ptr<emu::Machine> machine;
    std::unique_ptr<patcher::Ftrace> ftrace;
};

FtraceMachine ftrace_machine(patcher::TrampolineVariant variant, emu::KernelEra era) {
    LoadedObject kernel;
    FtraceMachine fm;
    fm.machine = machine_with_kernel(Compiler::Clang, &kernel);
    patcher::FtraceOptions fo;
    fo.variant = variant;
    fo.era = era;
    auto ftrace = patcher::Ftrace::create(*fm.machine, fo);
    REQUIRE(ftrace.ok());
    fm.ftrace = std::move(*ftrace);
    REQUIRE(fm.ftrace->add_object(kernel).ok());
    return fm;
}

std::set<std::string> plt_targets(const emu::Machine& m, const patcher::PltSection& plt) {
    std::set<std::string> out;
    for (const auto& slot : plt.slots()) {
        out.insert(m.symbolize(slot.target).str());
    }
    return out;
}

const patcher::Module& load_module(patcher::Modules& modules, emu::Placement placement,
                                   Compiler compiler) {
    patcher::ModuleSpec spec;
    spec.name = "calc_mod";
    spec.core.placement = placement;
    auto loaded = modules.load(compile("module.c", compiler), spec);
    REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
    return **loaded;
}

} // namespace

TEST_CASE("real compiler modules load near and far with the right PLTs") {
    for (Compiler compiler : {Compiler::Clang, Compiler::Gcc}) {
        for (emu::Placement placement : {emu::Placement::Near, emu::Placement::Far}) {
            const bool far = placement == emu::Placement::Far;
            CAPTURE(test::compiler_name(compiler));
            CAPTURE(far);
            auto m = machine_with_kernel(compiler);
            patcher::Modules modules(*m, {});
            const patcher::Module& mod = load_module(modules, placement, compiler);

            // count_plts reserved at least the three distinct callees of core text.
            CHECK(mod.counts.core >= 3);
            CHECK(mod.counts.init >= 1);
            if (far) {
                CHECK(plt_targets(*m, mod.plt) ==
                      std::set<std::string>{"kernel_add", "kernel_mul", "kernel_sub"});
                CHECK(mod.plt.slots().size() == 3);
                CHECK(plt_targets(*m, mod.init_plt) == std::set<std::string>{"kernel_add"});
                for (const auto& slot : mod.plt.slots()) {
                    // The entry in guest memory is the one built as data, and decodes back.
                    CHECK(m->memory().load<uint32_t>(slot.addr) == slot.entry.insn[0].raw);
                    CHECK(m->memory().load<uint32_t>(slot.addr + 8) == 0xd61f0200); // br x16
                    CHECK(patcher::plt_entry_target(slot.addr, slot.entry) == slot.target);
                }
            } else {
                CHECK(mod.plt.slots().empty());
                CHECK(mod.init_plt.slots().empty());
            }
            REQUIRE(mod.init_fn.has_value());
            auto init = m->call(*mod.init_fn);
            REQUIRE(init.ok());
            CHECK(*init == 0);
            REQUIRE(modules.free_init("calc_mod").ok());
            auto r = m->call(test::fn(*m, "mod_calc_twice"), {6});
            REQUIRE(r.ok());
            CHECK(*r == 2 * (36 - 7 + 12));
            CHECK_MESSAGE(m->findings().empty(), findings_text(*m));
        }
    }
}

TEST_CASE("plt-clobber: a veneer that uses x9 instead of x16") {
    auto m = machine_with_kernel(Compiler::Clang);
    patcher::Modules modules(*m, {});
    const patcher::Module& mod = load_module(modules, emu::Placement::Far, Compiler::Clang);
    REQUIRE(!mod.plt.slots().empty());
    const auto& slot = mod.plt.slots().front();
    // adrp x9, dst ; add x9, x9, :lo12:dst ; br x9 -- reaches the right place, breaks the ABI.
    auto adrp = a64::adrp(a64::kX9, slot.addr, slot.target);
    REQUIRE(adrp.ok());
    REQUIRE(m->write_text(slot.addr, *adrp).ok());
    REQUIRE(m->write_text(slot.addr + 4,
                          a64::add_imm(a64::kX9, a64::kX9, uint32_t(slot.target.value & 0xfff)))
                .ok());
    REQUIRE(m->write_text(slot.addr + 8, a64::br(a64::kX9)).ok());
    auto r = m->call(test::fn(*m, "mod_calc"), {6});
    REQUIRE(r.ok());
    CHECK(*r == 36 - 7 + 12); // x9 is caller-saved: the result survives, the check does not.
    const auto found = findings_of(*m, "plt-clobber");
    REQUIRE_MESSAGE(!found.empty(), findings_text(*m));
    CHECK(found.front().message.find("x9") != std::string::npos);
}

TEST_CASE("plt-overflow: count_plts one short of what relocation needs") {
    auto m = machine_with_kernel(Compiler::Clang);
    patcher::ModuleOptions options;
    options.plt_reserve_adjust = -1;
    patcher::Modules modules(*m, options);
    patcher::ModuleSpec spec;
    spec.name = "calc_mod";
    spec.core.placement = emu::Placement::Far;
    auto loaded = modules.load(compile("module.c", Compiler::Clang), spec);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message.find("exceeds") != std::string::npos);
    CHECK(findings_of(*m, "plt-overflow").size() == 1);
}

TEST_CASE("exec-freed-init: calling init after do_init_module freed it") {
    auto m = machine_with_kernel(Compiler::Clang);
    patcher::Modules modules(*m, {});
    const patcher::Module& mod = load_module(modules, emu::Placement::Far, Compiler::Clang);
    REQUIRE(mod.init_fn.has_value());
    REQUIRE(modules.free_init("calc_mod").ok());
    auto r = m->call(*mod.init_fn);
    CHECK_FALSE(r.ok()); // The task is killed.
    CHECK(findings_of(*m, "exec-freed-init").size() == 1);
    CHECK(findings_of(*m, "undefined-instruction").size() == 1); // The poison faults.
}

TEST_CASE("erratum 843419: no PLT ADRP at page offset 0xff8 or 0xffc") {
    // A .plt whose slot 1 would put its ADRP at 0xffc: the slot is skipped.
    patcher::PltSection plt(".plt", GuestAddr(0xffff800100000ff0), 4, true);
    auto a = plt.emit(GuestAddr(0xffff800008000000), "a");
    auto b = plt.emit(GuestAddr(0xffff800008000040), "b");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(*a == GuestAddr(0xffff800100000ff0));
    CHECK(*b == GuestAddr(0xffff800100001008)); // Slot 2: slot 1 (0xffc) skipped.
    CHECK(plt.used() == 3);
    patcher::PltSection plain(".plt", GuestAddr(0xffff800100000ff0), 4, false);
    REQUIRE(plain.emit(GuestAddr(0xffff800008000000), "a").ok());
    CHECK(*plain.emit(GuestAddr(0xffff800008000040), "b") == GuestAddr(0xffff800100000ffc));
}

TEST_CASE("init-text ftrace PLT: the v6.5 regression and its fix") {
    for (bool fixed : {false, true}) {
        CAPTURE(fixed);
        LoadedObject kernel;
        auto m = machine_with_kernel(Compiler::Clang, &kernel);
        patcher::FtraceOptions fo;
        fo.brk_on_range_error = !fixed;
        auto ftrace = patcher::Ftrace::create(*m, fo);
        REQUIRE(ftrace.ok());
        patcher::ModuleOptions mo;
        mo.init_ftrace_plt = fixed;
        REQUIRE((*ftrace)->add_object(kernel).ok());
        patcher::Modules modules(*m, mo, ftrace->get());
        REQUIRE((*ftrace)->enable("kernel_add init").ok());
        patcher::ModuleSpec spec;
        spec.name = "calc_mod";
        spec.core.placement = emu::Placement::Far;
        // Init memory 1 GiB below the core: out of BL reach of the core's ftrace PLT.
        spec.init = patcher::ModulePlace{emu::Placement::At, GuestAddr(0xffff8000c0000000)};
        auto loaded = modules.load(compile("module.c", Compiler::Clang), spec);
        REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
        // module_frob_arch_sections aligns the ftrace PLTs to __alignof__(struct plt_entry) = 4,
        // .plt and .init.plt to the L1 line.
        for (const PlacedSection& sec : (*loaded)->object.sections) {
            CAPTURE(sec.name);
            if (sec.name.ends_with("ftrace_trampoline")) {
                CHECK(sec.alignment == 4);
            } else if (sec.name == ".plt" || sec.name == ".init.plt") {
                CHECK(sec.alignment == 64);
            }
        }
        auto r = m->call(*(*loaded)->init_fn);
        if (fixed) {
            REQUIRE(r.ok());
            CHECK(*r == 0);
            CHECK_MESSAGE(m->findings().empty(), findings_text(*m));
            const auto& trace = (*ftrace)->trace();
            CHECK(std::any_of(trace.begin(), trace.end(), [](const std::string& l) {
                return l.find(" init <-") != std::string::npos;
            }));
        } else {
            CHECK(findings_of(*m, "bl-out-of-range").size() == 1);
            CHECK(findings_of(*m, "brk-at-callsite").size() == 1);
            CHECK(findings_of(*m, "patched-brk").size() == 1);
        }
    }
}

TEST_CASE("v5.5..v6.1 module ftrace PLTs: one entry per ftrace entry, and ftrace_modify_call") {
    // NR_FTRACE_PLTS = 2 with WITH_REGS: [FTRACE_PLT_IDX] -> ftrace_caller and
    // [FTRACE_REGS_PLT_IDX] -> ftrace_regs_caller (get_ftrace_plt). A far site goes to the entry
    // its ops need through the matching PLT entry. When a SAVE_REGS ops starts tracing a site
    // that is already on, ftrace_modify_call moves it: through the PLTs from v5.19
    // (ftrace_find_callable_addr), while v5.10 built both BLs against the entries themselves and
    // failed validation (ftrace_bug).
    for (const auto& [era, fixed] :
         {std::pair{emu::KernelEra::V5_10, false}, std::pair{emu::KernelEra::V6_1, true}}) {
        CAPTURE(emu::era_info(era).name);
        FtraceMachine fm = ftrace_machine(patcher::TrampolineVariant::Regs, era);
        auto& m = fm.machine;
        patcher::Ftrace& f = *fm.ftrace;
        patcher::Modules modules(*m, {}, &f);
        const patcher::Module& mod = load_module(modules, emu::Placement::Far, Compiler::Clang);
        const GuestAddr caller = test::fn(*m, "ftrace_caller");
        const GuestAddr regs_caller = test::fn(*m, "ftrace_regs_caller");
        REQUIRE(f.ftrace_plt_targets() == std::vector<GuestAddr>{caller, regs_caller});
        REQUIRE(mod.ftrace_plt.has_value());
        const GuestAddr plt0 = *mod.ftrace_plt;
        const GuestAddr plt1 = plt0 + int64_t(patcher::kPltEntrySize);
        for (const auto& [at, target] : {std::pair{plt0, caller}, std::pair{plt1, regs_caller}}) {
            auto entry = patcher::make_plt_entry(patcher::PltFormat::AdrpAdd, at, target);
            REQUIRE(entry.ok());
            CHECK(m->memory().load<uint32_t>(at) == entry->insn[0].raw);
            CHECK(patcher::plt_entry_target(at, *entry) == target);
        }
        for (const PlacedSection& sec : mod.object.sections) {
            if (sec.name == ".text.ftrace_trampoline") {
                CHECK(sec.range.size() == 2 * patcher::kPltEntrySize);
            }
        }
        REQUIRE(m->call(*mod.init_fn).ok());
        const GuestAddr twice = test::fn(*m, "mod_calc_twice");
        const auto plain = m->call(twice, {6});
        REQUIRE(plain.ok());

        // The function tracer needs no pt_regs: the site calls ftrace_caller through PLT[0].
        REQUIRE(f.enable("mod_calc_twice").ok());
        auto target = [&] {
            for (const auto& s : f.sites()) {
                if (s.site.function == "mod_calc_twice") {
                    return s.target;
                }
            }
            FAIL("no site for mod_calc_twice");
            return GuestAddr{};
        };
        CHECK(target() == plt0);
        auto traced = m->call(twice, {6});
        REQUIRE(traced.ok());
        CHECK(*traced == *plain);

        int regs_calls = 0;
        patcher::FtraceOps ops;
        ops.name = "regs";
        ops.flags.set(patcher::FtraceOpsFlag::SaveRegs);
        ops.filter = patcher::FtraceFilter("mod_calc_twice");
        ops.func = [&](patcher::FtraceCall&) { ++regs_calls; };
        REQUIRE(f.register_ops(std::move(ops)).ok());
        traced = m->call(twice, {6});
        REQUIRE(traced.ok());
        CHECK(*traced == *plain);
        if (fixed) {
            CHECK(target() == plt1);
            CHECK(regs_calls == 1);
            CHECK_MESSAGE(findings_of(*m, "ftrace-bug").empty(), findings_text(*m));
        } else {
            // The site keeps calling ftrace_caller through PLT[0]; the kernel would now have
            // disabled ftrace.
            CHECK(target() == plt0);
            const auto bugs = findings_of(*m, "ftrace-bug");
            REQUIRE(bugs.size() == 1);
            CHECK(bugs[0].message.find("ftrace failed to modify mod_calc_twice+0x4") !=
                  std::string::npos);
            CHECK(bugs[0].message.find("from ftrace_caller to ftrace_regs_caller") !=
                  std::string::npos);
            // ftrace_kill: ftrace is disabled for good. Nothing can be registered, unregistered
            // or refiltered (-ENODEV), no site is written again, and what is live stays live:
            // both callbacks still run on the next call.
            CHECK(f.killed());
            const uint64_t writes = m->text_writes();
            patcher::FtraceOps late;
            late.name = "late";
            late.filter = patcher::FtraceFilter("mod_calc_twice");
            late.func = [](patcher::FtraceCall&) {};
            auto refused = f.register_ops(std::move(late));
            REQUIRE(!refused.ok());
            CHECK(refused.error().code == ENODEV);
            CHECK(refused.error().message.find("-ENODEV") != std::string::npos);
            auto off = f.disable("mod_calc_twice");
            REQUIRE(!off.ok());
            CHECK(off.error().code == ENODEV);
            CHECK(m->text_writes() == writes);
            traced = m->call(twice, {6});
            REQUIRE(traced.ok());
            CHECK(regs_calls == 2);
            CHECK(target() == plt0);
        }
        if (fixed) {
            CHECK(!f.killed());
        }
    }
}

TEST_CASE("v5.10 ftrace_bug: ftrace_replace_code stops at the failing site (ftrace_kill)") {
    // Both functions of a far module are traced through ftrace_caller (PLT[0]); a SAVE_REGS ops
    // on both makes ftrace_replace_code move each site. The first move fails validation:
    // ftrace_bug, ftrace_kill, and "Stop processing": the second site is not tried at all.
    FtraceMachine fm = ftrace_machine(patcher::TrampolineVariant::Regs, emu::KernelEra::V5_10);
    auto& m = fm.machine;
    patcher::Ftrace& f = *fm.ftrace;
    patcher::Modules modules(*m, {}, &f);
    const patcher::Module& mod = load_module(modules, emu::Placement::Far, Compiler::Clang);
    REQUIRE(m->call(*mod.init_fn).ok());
    REQUIRE(f.enable("mod_calc mod_calc_twice").ok());
    patcher::FtraceOps ops;
    ops.name = "regs";
    ops.flags.set(patcher::FtraceOpsFlag::SaveRegs);
    ops.filter = patcher::FtraceFilter("mod_calc mod_calc_twice");
    ops.func = [](patcher::FtraceCall&) {};
    REQUIRE(f.register_ops(std::move(ops)).ok());
    CHECK(f.killed());
    const auto bugs = findings_of(*m, "ftrace-bug");
    CHECK_MESSAGE(bugs.size() == 1, findings_text(*m));
    for (const auto& s : f.sites()) {
        CAPTURE(s.site.function);
        if (s.site.function.starts_with("mod_calc")) {
            CHECK(s.target == *mod.ftrace_plt); // Both still on PLT[0]: neither moved.
        }
    }
    // A refused disable changes nothing, not even the function tracer's filter: the function
    // is still traced on its next call.
    const size_t traced_before = f.trace().size();
    auto off = f.disable("mod_calc_twice");
    REQUIRE(!off.ok());
    CHECK(off.error().code == ENODEV);
    REQUIRE(m->call(test::fn(*m, "mod_calc_twice"), {6}).ok());
    const auto& trace = f.trace();
    CHECK(std::any_of(
        trace.begin() + std::ptrdiff_t(traced_before), trace.end(),
        [](const std::string& l) { return l.find(" mod_calc_twice <-") != std::string::npos; }));
}

namespace {

// The words guest memory holds at `at`, as many as a `format` entry has.
std::vector<uint32_t> words_at(const emu::Machine& m, GuestAddr at, patcher::PltFormat format) {
    std::vector<uint32_t> out;
    for (uint64_t off = 0; off < patcher::plt_entry_size(format); off += 4) {
        out.push_back(m.memory().load<uint32_t>(at + int64_t(off)));
    }
    return out;
}

} // namespace

TEST_CASE("4.19 module PLTs: 16-byte movn/movk/movk/br x16 entries, as get_plt_entry(val) built") {
    // Up to 4.19 struct plt_entry was {mov0, mov1, mov2, br}; v5.0 switched to adrp/add/br.
    const auto format = patcher::era_plt_format(emu::KernelEra::V4_19_v4);
    REQUIRE(format == patcher::PltFormat::MovWide);
    CHECK(patcher::era_plt_format(emu::KernelEra::V5_5) == patcher::PltFormat::AdrpAdd);
    for (Compiler compiler : {Compiler::Clang, Compiler::Gcc}) {
        CAPTURE(test::compiler_name(compiler));
        auto m = machine_with_kernel(compiler);
        patcher::ModuleOptions options;
        options.plt_format = format;
        options.erratum_843419 = true; // No ADRP in a 4.19 entry: no slack, no skipped slot.
        patcher::Modules modules(*m, options);
        const patcher::Module& mod = load_module(modules, emu::Placement::Far, compiler);
        REQUIRE(mod.plt.slots().size() == 3);
        for (size_t i = 0; i < mod.plt.slots().size(); ++i) {
            const auto& slot = mod.plt.slots()[i];
            CAPTURE(m->symbolize(slot.target).str());
            CHECK(slot.addr == mod.plt.base() + int64_t(16 * i));
            const uint64_t v = slot.target.value;
            // The kernel's own formula for each word.
            const std::vector<uint32_t> expected{uint32_t(0x92800010 | ((~v & 0xffff) << 5)),
                                                 uint32_t(0xf2a00010 | (((v >> 16) & 0xffff) << 5)),
                                                 uint32_t(0xf2c00010 | (((v >> 32) & 0xffff) << 5)),
                                                 0xd61f0200};
            CHECK(words_at(*m, slot.addr, format) == expected);
            CHECK(patcher::plt_entry_target(slot.addr, slot.entry) == slot.target);
        }
        for (const PlacedSection& sec : mod.object.sections) {
            if (sec.name == ".plt") {
                CHECK(sec.range.size() == (mod.plt.max_entries() + 1) * 16);
            }
        }
        REQUIRE(mod.init_fn.has_value());
        auto init = m->call(*mod.init_fn);
        REQUIRE(init.ok());
        auto r = m->call(test::fn(*m, "mod_calc_twice"), {6});
        REQUIRE(r.ok());
        CHECK(*r == 2 * (36 - 7 + 12));
        CHECK_MESSAGE(m->findings().empty(), findings_text(*m));
    }
}

TEST_CASE("4.19 module PLTs: count_plts adds no erratum 843419 slack for movn/movk entries") {
    const ObjectBytes module = compile("module.c", Compiler::Clang);
    auto elf = ElfObject::parse(module);
    REQUIRE(elf.ok());
    const auto adrp = patcher::count_plts(*elf, true, patcher::PltFormat::AdrpAdd);
    const auto movw = patcher::count_plts(*elf, true, patcher::PltFormat::MovWide);
    const auto plain = patcher::count_plts(*elf, false, patcher::PltFormat::MovWide);
    CHECK(movw.core == plain.core);
    CHECK(adrp.core == plain.core + 1); // DIV_ROUND_UP(n, 4096 / 12) for a handful of entries.
}

TEST_CASE("plt-clobber sees the fourth instruction of a 16-byte entry") {
    // A 4.19 entry whose last instruction is `blr x16` reaches its target but clobbers x30: the
    // check must wait until the whole 16-byte entry has run.
    auto m = machine_with_kernel(Compiler::Clang);
    patcher::ModuleOptions options;
    options.plt_format = patcher::PltFormat::MovWide;
    patcher::Modules modules(*m, options);
    const patcher::Module& mod = load_module(modules, emu::Placement::Far, Compiler::Clang);
    REQUIRE(!mod.plt.slots().empty());
    const auto& slot = mod.plt.slots().front();
    REQUIRE(m->write_text(slot.addr + 12, a64::blr(a64::kX16)).ok());
    (void)m->call(test::fn(*m, "mod_calc"), {6}); // Returns into the entry: the result is moot.
    const auto found = findings_of(*m, "plt-clobber");
    REQUIRE_MESSAGE(!found.empty(), findings_text(*m));
    CHECK(found.front().message.find("x30") != std::string::npos);
}

TEST_CASE("4.19-v4 module ftrace PLTs are movn/movk entries too") {
    FtraceMachine fm = ftrace_machine(patcher::TrampolineVariant::RegsV4, emu::KernelEra::V4_19_v4);
    auto& m = fm.machine;
    patcher::Ftrace& f = *fm.ftrace;
    patcher::ModuleOptions options;
    options.plt_format = patcher::era_plt_format(emu::KernelEra::V4_19_v4);
    patcher::Modules modules(*m, options, &f);
    const patcher::Module& mod = load_module(modules, emu::Placement::Far, Compiler::Clang);
    REQUIRE(mod.ftrace_plt.has_value());
    const auto targets = f.ftrace_plt_targets();
    REQUIRE(!targets.empty());
    for (size_t i = 0; i < targets.size(); ++i) {
        const GuestAddr at = *mod.ftrace_plt + int64_t(16 * i);
        const auto entry = patcher::PltEntry::from_words(
            patcher::PltFormat::MovWide, words_at(*m, at, patcher::PltFormat::MovWide));
        CHECK(patcher::plt_entry_target(at, entry) == targets[i]);
    }
    for (const PlacedSection& sec : mod.object.sections) {
        if (sec.name == ".text.ftrace_trampoline") {
            CHECK(sec.range.size() == 16 * targets.size());
        }
    }
    REQUIRE(m->call(*mod.init_fn).ok());
    const GuestAddr twice = test::fn(*m, "mod_calc_twice");
    const auto plain = m->call(twice, {6});
    REQUIRE(plain.ok());
    REQUIRE(f.enable("mod_calc_twice").ok());
    const auto traced = m->call(twice, {6});
    REQUIRE(traced.ok());
    CHECK(*traced == *plain);
    const auto& trace = f.trace();
    CHECK(std::any_of(trace.begin(), trace.end(), [](const std::string& l) {
        return l.find("mod_calc_twice <-") != std::string::npos;
    }));
    // The series wrote `mov x9, x30` into the live site at enable time: that is its own finding
    // (docs/eras.md); nothing else is wrong with the far call through the 16-byte ftrace PLT.
    for (const auto& finding : m->findings()) {
        CHECK_MESSAGE((finding.kind == "mov-slot-rewritten" || finding.kind == "cmodx-unsafe"),
                      findings_text(*m));
    }
}
