// See unwind_check.h.
#include "scenarios/unwind_check.h"

#include "patcher/ftrace.h"

#include <fmt/format.h>

#include <algorithm>

namespace klpemu::scenario {

namespace {

UnwindCounts counts_of(const unwinder::PolicyStats& s) {
    return UnwindCounts{s.checked, s.reliable_correct, s.unreliable, s.unsound, s.skipped};
}

// Every policy of `names`, in the stable order of policy_names().
std::vector<std::string> in_policy_order(const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (std::string_view p : unwinder::policy_names()) {
        if (std::find(names.begin(), names.end(), p) != names.end()) {
            out.emplace_back(p);
        }
    }
    return out;
}

} // namespace

std::vector<std::string> asserted_policies(const MachineSpec& machine) {
    if (!machine.check_unwind) {
        return {};
    }
    if (machine.policies == "all") {
        const auto all = unwinder::policy_names();
        return std::vector<std::string>(all.begin(), all.end());
    }
    return {machine.unwinder};
}

Result<std::vector<std::string>> parse_policy_list(std::string_view text) {
    std::vector<std::string> out;
    const auto all = unwinder::policy_names();
    if (text == "all") {
        return std::vector<std::string>(all.begin(), all.end());
    }
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = std::min(text.find(',', start), text.size());
        const std::string_view name = text.substr(start, comma - start);
        if (std::find(all.begin(), all.end(), name) == all.end()) {
            return make_error("unknown unwinder policy '{}'; expected all or a comma-separated "
                              "list of: {}",
                              name, fmt::join(all, ", "));
        }
        out.emplace_back(name);
        start = comma + 1;
    }
    return out;
}

UnwindCheck::UnwindCheck(emu::Machine& machine, patcher::Ftrace* ftrace,
                         std::vector<std::string> asserted, std::vector<std::string> observed,
                         bool full_walk)
    : m_machine(machine), m_ftrace(ftrace), m_asserted(std::move(asserted)) {
    std::vector<std::string> all = m_asserted;
    all.insert(all.end(), observed.begin(), observed.end());
    unwinder::CheckerConfig config;
    config.policies = in_policy_order(all);
    config.full_walk = full_walk;
    objects_loaded();
    m_checker = std::make_unique<unwinder::MachineChecker>(machine, std::move(config), &m_cfi);
    tasks_created();
}

UnwindCheck::~UnwindCheck() = default;

bool UnwindCheck::asserted(std::string_view policy) const {
    return std::find(m_asserted.begin(), m_asserted.end(), policy) != m_asserted.end();
}

void UnwindCheck::objects_loaded() {
    const auto& sections = m_machine.cfi_sections();
    for (; m_cfi_sections < sections.size(); ++m_cfi_sections) {
        // CFI the table cannot parse leaves its code uncovered: the cfi policy is then
        // unreliable there, never wrong.
        (void)m_cfi.add_section(sections[m_cfi_sections]);
    }
    if (m_checker) {
        m_checker->checker().refresh_symbols();
    }
}

void UnwindCheck::tasks_created() {
    for (; m_tasks_wired < m_machine.task_count(); ++m_tasks_wired) {
        if (const GraphReturnStack* g = graph_stack(m_tasks_wired)) {
            m_checker->set_graph_stack(m_tasks_wired, g);
        }
    }
}

const GraphReturnStack* UnwindCheck::graph_stack(int task) const {
    return m_ftrace != nullptr ? &m_ftrace->graph_return_stack(task) : nullptr;
}

std::vector<Finding> UnwindCheck::take_findings() {
    const auto& all = m_checker->checker().findings();
    std::vector<Finding> out;
    for (; m_findings_taken < all.size(); ++m_findings_taken) {
        const auto& source = m_checker->checker().finding_source(m_findings_taken);
        const bool mine = source.policy.empty() ? !m_asserted.empty() : asserted(source.policy);
        if (mine) {
            out.push_back(all[m_findings_taken]);
        }
    }
    return out;
}

std::span<const GuestAddr> UnwindCheck::bottom_return_addresses() const {
    return m_checker->checker().bottom_return_addresses();
}

std::optional<Finding> UnwindCheck::judge_reliable_trace(const emu::Task& task, int cpu,
                                                         GuestAddr pc, std::string_view policy,
                                                         std::string_view producer,
                                                         std::span<const GuestAddr> trace) const {
    const unwinder::GroundTruth* truth = m_checker->checker().truth(task.id);
    if (truth == nullptr || !truth->complete()) {
        return std::nullopt;
    }
    std::vector<GuestAddr> real;
    truth->return_addresses(pc, real);
    const std::span<const GuestAddr> expected = std::span<const GuestAddr>(real).subspan(1);
    if (std::equal(trace.begin(), trace.end(), expected.begin(), expected.end())) {
        return std::nullopt;
    }
    auto list = [&](std::span<const GuestAddr> addrs) {
        std::string out;
        for (const GuestAddr a : addrs) {
            out += (out.empty() ? "" : " <- ") + m_machine.symbolize(a).str();
        }
        return out;
    };
    // The first return address the trace gets wrong, as the per-boundary check words it.
    std::string difference;
    const auto [t, e] = std::mismatch(trace.begin(), trace.end(), expected.begin(), expected.end());
    if (e != expected.end() && (t == trace.end() || std::find(t, trace.end(), *e) == trace.end())) {
        difference = "misses " + m_machine.symbolize(*e).str();
    } else if (t != trace.end()) {
        difference = "reports " + m_machine.symbolize(*t).str() + " out of place";
    }
    Finding f;
    f.kind = "unsound-reliable-trace";
    f.severity = Severity::Error;
    f.pc = trace.empty() ? pc : trace.front();
    f.where = m_machine.symbolize(*f.pc).str();
    f.cpu = cpu;
    f.task = task.name;
    f.message = fmt::format("unwinder: {}: {}'s reliable trace {}; trace: {}; truth: {}", policy,
                            producer, difference, list(trace), list(expected));
    return f;
}

UnwindReport UnwindCheck::report() const {
    const auto& checker = m_checker->checker();
    UnwindReport r;
    for (std::string_view p : checker.policies()) {
        UnwindPolicyReport pr;
        pr.policy = std::string(p);
        pr.asserted = asserted(p);
        pr.counts = counts_of(checker.stats(p));
        r.policies.push_back(std::move(pr));
    }
    const auto& findings = checker.findings();
    for (size_t i = 0; i < findings.size(); ++i) {
        const auto& source = checker.finding_source(i);
        for (auto& pr : r.policies) {
            if (pr.policy == source.policy) {
                pr.unsound.push_back(UnsoundBoundary{findings[i].where,
                                                     findings[i].pc ? findings[i].pc->value : 0,
                                                     source.view, findings[i].task});
            }
        }
    }
    for (const auto& [function, per_policy] : checker.function_stats()) {
        for (const auto& pr : r.policies) {
            auto it = per_policy.find(pr.policy);
            if (it != per_policy.end()) {
                r.functions.push_back(
                    UnwindFunctionRow{function, pr.policy, counts_of(it->second)});
            }
        }
    }
    return r;
}

} // namespace klpemu::scenario
