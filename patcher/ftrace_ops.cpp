// The ftrace ops registry: filter/notrace hashes keyed by function entry address, names resolved
// once, IPMODIFY exclusivity (see ftrace_ops.h).
#include "patcher/ftrace_ops.h"

#include <fmt/format.h>

#include <cerrno>

namespace klpemu::patcher {

uint64_t FtraceRegs::arg(int n) const {
    if (n < 0 || n >= kFtraceArgRegs) {
        return 0;
    }
    return load(uint32_t(8 * n));
}

void FtraceRegs::set_lr(GuestAddr a) {
    m_memory.store<uint64_t>(m_base + int64_t(m_layout.lr), a.value);
    m_lr_changed = true;
}

void FtraceRegs::set_pc(GuestAddr a) {
    m_memory.store<uint64_t>(m_base + int64_t(m_layout.pc), a.value);
    m_pc_changed = true;
}

bool is_glob(std::string_view name) {
    return name.find_first_of("*?") != std::string_view::npos;
}

FtraceHash resolve_filter(const FtraceFilter& filter, std::span<const PatchSite> sites,
                          const SymbolTable& symbols) {
    FtraceHash out;
    for (const std::string& word : filter.globs()) {
        const bool glob = is_glob(word);
        const std::optional<Symbol> global = glob ? std::nullopt : symbols.lookup(word);
        for (const PatchSite& site : sites) {
            if (!glob_match(word, site.function)) {
                continue;
            }
            if (global && global->addr != site.function_addr) {
                continue; // A same-named function of another object.
            }
            out.insert(site.function_addr);
        }
    }
    return out;
}

bool FtraceOpsRegistry::traces(const Entry& e, GuestAddr function) {
    return (!e.filtered || e.filter.contains(function)) && !e.notrace.contains(function);
}

Result<void> FtraceOpsRegistry::check_ipmodify(OpsId self, const Entry& probe,
                                               std::span<const PatchSite> sites) const {
    const FtraceOps& ops = probe.ops;
    if (!ops.flags.has(FtraceOpsFlag::IpModify)) {
        return {};
    }
    for (const PatchSite& site : sites) {
        if (!traces(probe, site.function_addr)) {
            continue;
        }
        for (const auto& [id, other] : m_ops) {
            if (id != self && other.ops.flags.has(FtraceOpsFlag::IpModify) &&
                traces(other, site.function_addr)) {
                Error e = make_error("ftrace: ops '{}': {} is already modified by IPMODIFY ops "
                                     "'{}'",
                                     ops.name, site.function, other.ops.name);
                e.code = EBUSY;
                return e;
            }
        }
    }
    return {};
}

Result<OpsId> FtraceOpsRegistry::add(FtraceOps ops, std::span<const PatchSite> sites) {
    Entry entry{std::move(ops), false, {}, {}};
    entry.filtered = !entry.ops.filter.empty() || !entry.ops.filter_ips.empty();
    entry.filter = resolve_filter(entry.ops.filter, sites, m_symbols);
    entry.notrace = resolve_filter(entry.ops.notrace, sites, m_symbols);
    for (GuestAddr ip : entry.ops.filter_ips) {
        const bool known = std::any_of(sites.begin(), sites.end(),
                                       [&](const PatchSite& s) { return s.function_addr == ip; });
        if (!known) {
            Error e = make_error("ftrace: ops '{}': {} is not a traceable function", entry.ops.name,
                                 m_symbols.symbolize(ip).str());
            e.code = ENOENT;
            return e;
        }
        entry.filter.insert(ip);
    }
    entry.notrace.insert(entry.ops.notrace_ips.begin(), entry.ops.notrace_ips.end());
    const bool any = std::any_of(sites.begin(), sites.end(), [&](const PatchSite& s) {
        return traces(entry, s.function_addr);
    });
    const bool named_nothing = !entry.ops.filter.empty() && entry.filter.empty();
    if (!any || named_nothing) {
        return make_error("ftrace: ops '{}': filter '{}' matches no traceable function",
                          entry.ops.name, fmt::join(entry.ops.filter.globs(), " "));
    }
    KLP_TRY(check_ipmodify(0, entry, sites));
    const OpsId id = m_next++;
    m_ops.emplace(id, std::move(entry));
    return id;
}

Result<void> FtraceOpsRegistry::remove(OpsId id) {
    if (m_ops.erase(id) == 0) {
        return make_error("ftrace: no ops with id {}", id);
    }
    return {};
}

Result<size_t> FtraceOpsRegistry::add_filter(OpsId id, const FtraceFilter& filter,
                                             std::span<const PatchSite> sites) {
    Entry& entry = m_ops.at(id);
    const FtraceHash added = resolve_filter(filter, sites, m_symbols);
    Entry merged = entry;
    merged.filtered = true;
    merged.filter.insert(added.begin(), added.end());
    KLP_TRY(check_ipmodify(id, merged, sites));
    entry.filtered = true;
    entry.filter = std::move(merged.filter);
    // Remember the names for objects added later (ftrace_module_enable).
    std::vector<std::string> words = entry.ops.filter.globs();
    words.insert(words.end(), filter.globs().begin(), filter.globs().end());
    entry.ops.filter = FtraceFilter(fmt::format("{}", fmt::join(words, " ")));
    size_t matched = 0;
    for (const PatchSite& site : sites) {
        matched += filter.matches(site.function) ? 1 : 0;
    }
    return added.empty() ? 0 : matched;
}

size_t FtraceOpsRegistry::remove_filter(OpsId id, const FtraceFilter& filter,
                                        std::span<const PatchSite> sites) {
    Entry& entry = m_ops.at(id);
    size_t removed = 0;
    for (const PatchSite& site : sites) {
        if (filter.matches(site.function)) {
            removed += entry.filter.erase(site.function_addr);
        }
    }
    return removed;
}

void FtraceOpsRegistry::object_added(std::span<const PatchSite> sites) {
    for (auto& [id, entry] : m_ops) {
        if (entry.ops.filter.empty()) {
            continue;
        }
        const FtraceHash added = resolve_filter(entry.ops.filter, sites, m_symbols);
        entry.filter.insert(added.begin(), added.end());
        const FtraceHash skipped = resolve_filter(entry.ops.notrace, sites, m_symbols);
        entry.notrace.insert(skipped.begin(), skipped.end());
    }
}

void FtraceOpsRegistry::text_freed(GuestRange range) {
    for (auto& [id, entry] : m_ops) {
        std::erase_if(entry.filter, [&](GuestAddr a) { return range.contains(a); });
        std::erase_if(entry.notrace, [&](GuestAddr a) { return range.contains(a); });
    }
}

bool FtraceOpsRegistry::traces(OpsId id, const PatchSite& site) const {
    auto it = m_ops.find(id);
    return it != m_ops.end() && traces(it->second, site.function_addr);
}

std::vector<OpsId> FtraceOpsRegistry::ops_for(const PatchSite& site) const {
    std::vector<OpsId> out;
    for (const auto& [id, entry] : m_ops) {
        if (traces(entry, site.function_addr)) {
            out.push_back(id);
        }
    }
    return out;
}

const FtraceOps* FtraceOpsRegistry::find(OpsId id) const {
    auto it = m_ops.find(id);
    return it == m_ops.end() ? nullptr : &it->second.ops;
}

void FtraceOpsRegistry::set_direct_call(OpsId id, GuestAddr addr) {
    auto it = m_ops.find(id);
    KLP_CHECK(it != m_ops.end(), "set_direct_call on unregistered ops {}", id);
    it->second.ops.direct_call = addr;
}

OpsId FtraceOpsRegistry::direct_ops_for(GuestAddr function, OpsId self) const {
    for (const auto& [id, e] : m_ops) {
        if (id != self && e.ops.direct_call.value != 0 && e.filter.contains(function)) {
            return id;
        }
    }
    return 0;
}

const FtraceHash& FtraceOpsRegistry::filter_hash(OpsId id) const {
    return m_ops.at(id).filter;
}

} // namespace klpemu::patcher
