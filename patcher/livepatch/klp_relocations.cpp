// See klp_relocations.h.
#include "patcher/livepatch/klp_relocations.h"

#include "emu/relocation.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace klpemu::patcher::livepatch {

namespace {

constexpr int64_t kEINVAL = 22, kENOEXEC = 8;
constexpr size_t kModuleNameMax = 55; // The %55[^.] of the kernel's sscanf formats.
constexpr size_t kSymNameMax = 511;   // %511[^,] (KSYM_NAME_LEN 512)

// sscanf's %N[^stop]: at least one character, at most `max`, none of them `stop`.
std::optional<std::string_view> scan_until(std::string_view& in, char stop, size_t max) {
    size_t n = 0;
    while (n < in.size() && n < max && in[n] != stop) {
        ++n;
    }
    if (n == 0) {
        return std::nullopt;
    }
    const std::string_view out = in.substr(0, n);
    in.remove_prefix(n);
    return out;
}

// ".klp.sym.%55[^.].%511[^,],%lu": objname, symname, sympos, or nullopt (cnt != 3).
struct KlpSymName {
    std::string objname, symname;
    uint64_t sympos = 0;
};
std::optional<KlpSymName> parse_klp_sym(std::string_view name) {
    constexpr std::string_view prefix = ".klp.sym.";
    if (!name.starts_with(prefix)) {
        return std::nullopt;
    }
    name.remove_prefix(prefix.size());
    auto obj = scan_until(name, '.', kModuleNameMax);
    if (!obj || !name.starts_with('.')) {
        return std::nullopt;
    }
    name.remove_prefix(1);
    auto sym = scan_until(name, ',', kSymNameMax);
    if (!sym || !name.starts_with(',')) {
        return std::nullopt;
    }
    name.remove_prefix(1);
    uint64_t pos = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pos);
    if (ec != std::errc() || end == name.data()) {
        return std::nullopt;
    }
    return KlpSymName{std::string(*obj), std::string(*sym), pos};
}

// The symbols klp_find_callback visits for `objname`, in the order it visits them.
std::vector<Symbol> candidates(const KlpSymbolScope& scope, std::string_view objname,
                               std::string_view name) {
    if (!objname.empty()) {
        return scope.table.all_named_in(objname, name);
    }
    std::vector<Symbol> out;
    for (const auto& object : scope.kernel_objects) {
        auto found = scope.table.all_named_in(object, name);
        out.insert(out.end(), found.begin(), found.end());
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const Symbol& a, const Symbol& b) { return a.addr < b.addr; });
    return out;
}

} // namespace

Result<Symbol> klp_find_object_symbol(const KlpSymbolScope& scope, std::string_view objname,
                                      std::string_view name, uint64_t sympos) {
    const std::vector<Symbol> found = candidates(scope, objname, name);
    // klp_find_callback stops at the wanted position, or at the second match of sympos 0.
    const size_t count =
        sympos != 0 ? std::min<size_t>(found.size(), sympos) : std::min<size_t>(found.size(), 2);
    if (count == 0) {
        return make_error("symbol '{}' not found in symbol table", name);
    }
    if (count > 1 && sympos == 0) {
        // The kernel passes NULL for vmlinux here, which printk shows as "(null)".
        return make_error("unresolvable ambiguity for symbol '{}' in object '{}'", name,
                          objname.empty() ? "(null)" : objname);
    }
    if (sympos > 0 && count != sympos) {
        return make_error("symbol position {} for symbol '{}' in object '{}' not found", sympos,
                          name, objname.empty() ? "vmlinux" : objname);
    }
    return found[count - 1];
}

namespace {

// klp_resolve_symbols + apply_relocate_add for one section whose objname is `sec_objname`.
int64_t write_section(const KlpRelocContext& ctx, const Module& pmod, const KlpRelaSection& sec,
                      std::string_view sec_objname) {
    const bool sec_vmlinux = sec_objname == "vmlinux";
    std::vector<uint64_t> values;
    for (const KlpRelocation& r : sec.relocations) {
        if (!r.livepatch_symbol) {
            ctx.pr_err(
                fmt::format("livepatch: symbol {} is not marked as a livepatch symbol", r.symbol));
            return -kEINVAL;
        }
        const auto parsed = parse_klp_sym(r.symbol);
        if (!parsed) {
            ctx.pr_err(
                fmt::format("livepatch: symbol {} has an incorrectly formatted name", r.symbol));
            return -kEINVAL;
        }
        const bool sym_vmlinux = parsed->objname == "vmlinux";
        if (!sec_vmlinux && sym_vmlinux) {
            ctx.pr_err(fmt::format("livepatch: invalid access to vmlinux symbol '{}' from "
                                   "module-specific livepatch relocation section",
                                   parsed->symname));
            return -kEINVAL;
        }
        auto sym = klp_find_object_symbol(ctx.scope, sym_vmlinux ? "" : parsed->objname,
                                          parsed->symname, parsed->sympos);
        if (!sym) {
            ctx.pr_err("livepatch: " + sym.error().message);
            return -kEINVAL;
        }
        values.push_back(sym->addr.value);
    }
    if (!sec.target_addr) {
        return 0; // apply_relocations: "Don't bother with non-allocated sections".
    }
    emu::Machine& m = ctx.machine;
    for (size_t i = 0; i < sec.relocations.size(); ++i) {
        const KlpRelocation& r = sec.relocations[i];
        if (!is_supported_relocation(r.type)) {
            ctx.pr_err(
                fmt::format("module {}: unsupported RELA relocation: {}", pmod.name, r.type));
            return -kENOEXEC;
        }
        const uint32_t width = relocation_width(r.type);
        if (width == 0) {
            continue;
        }
        RelocValues v{values[i], r.addend, *sec.target_addr + int64_t(r.offset)};
        const bool branch26 =
            r.type == uint32_t(RelocType::Call26) || r.type == uint32_t(RelocType::Jump26);
        if (branch26 && !reachable_by_branch26(v.P, GuestAddr(v.S + uint64_t(v.A)))) {
            // apply_relocate_add: -ERANGE from reloc_insn_imm -> module_emit_plt_entry.
            auto plt = ctx.modules ? ctx.modules->emit_late_plt(
                                         pmod.name, v.P, GuestAddr(v.S + uint64_t(v.A)), r.symbol)
                                   : Result<GuestAddr>(make_error("no module PLTs"));
            if (!plt) {
                ctx.pr_err(plt.error().message);
                return -kENOEXEC;
            }
            v.S = plt->value;
            v.A = 0;
        }
        std::vector<uint8_t> bytes(width);
        if (!m.memory().read(v.P, bytes.data(), width).ok()) {
            ctx.pr_err(fmt::format("module {}: relocation at {} is outside mapped memory",
                                   pmod.name, v.P));
            return -kENOEXEC;
        }
        if (!apply_relocation(r.type, bytes, v).ok()) {
            ctx.pr_err(fmt::format("module {}: overflow in relocation type {} val {:x}", pmod.name,
                                   r.type, v.S + uint64_t(v.A)));
            return -kENOEXEC;
        }
        const bool text = std::any_of(
            pmod.object.sections.begin(), pmod.object.sections.end(),
            [&](const PlacedSection& s) { return s.executable && s.range.contains(v.P); });
        const Result<void> written = text ? m.write_text_bytes(v.P, bytes)
                                          : m.memory().write(v.P, bytes.data(), bytes.size());
        if (!written.ok()) {
            ctx.pr_err(fmt::format("module {}: writing the relocation at {}: {}", pmod.name, v.P,
                                   written.error().message));
            return -kENOEXEC;
        }
    }
    return 0;
}

} // namespace

int64_t klp_apply_section_relocs(const KlpRelocContext& ctx, const Module& pmod,
                                 std::string_view objname) {
    for (const KlpRelaSection& sec : pmod.object.klp_relocations) {
        // ".klp.rela.%55[^.]"
        std::string_view rest = sec.name;
        constexpr std::string_view prefix = ".klp.rela.";
        std::optional<std::string_view> sec_objname;
        if (rest.starts_with(prefix)) {
            rest.remove_prefix(prefix.size());
            sec_objname = scan_until(rest, '.', kModuleNameMax);
        }
        if (!sec_objname) {
            ctx.pr_err(
                fmt::format("livepatch: section {} has an incorrectly formatted name", sec.name));
            return -kEINVAL;
        }
        if (*sec_objname != objname) {
            continue;
        }
        if (const int64_t r = write_section(ctx, pmod, sec, *sec_objname); r != 0) {
            return r;
        }
    }
    return 0;
}

} // namespace klpemu::patcher::livepatch
