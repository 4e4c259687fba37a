// See livepatch_shell.h.
#include "scenarios/livepatch_shell.h"

#include "patcher/livepatch/guest_format.h"
#include "patcher/livepatch/klp_layout.h"
#include "scenarios/shell_pids.h"

#include <fmt/format.h>

#include <cstring>

namespace klpemu::scenario {

namespace L = patcher::klp_layout;
using patcher::livepatch::HostOp;

namespace {

// The longest `wait transition` waits, in simulated seconds (the selftests' loop_until).
constexpr uint64_t kWaitSeconds = 60;

} // namespace

std::string errno_text(int64_t err) {
    switch (err) {
    case 1:
        return "Operation not permitted";
    case 2:
        return "No such file or directory";
    case 12:
        return "Cannot allocate memory";
    case 16:
        return "Device or resource busy";
    case 17:
        return "File exists";
    case 19:
        return "No such device";
    case 22:
        return "Invalid parameters";
    default:
        return std::strerror(int(err));
    }
}

LivepatchShell::LivepatchShell(emu::Machine& machine, std::string policy)
    : m_machine(machine), m_policy(std::move(policy)) {}

LivepatchShell::~LivepatchShell() = default;

Result<std::unique_ptr<LivepatchShell>>
LivepatchShell::create(emu::Machine& machine, patcher::Ftrace& ftrace, std::string policy,
                       const std::vector<std::string>& observed) {
    std::unique_ptr<LivepatchShell> shell(new LivepatchShell(machine, std::move(policy)));
    auto engine = patcher::livepatch::Livepatch::create(machine, ftrace);
    if (!engine) {
        return engine.error();
    }
    shell->m_engine = std::move(*engine);
    shell->m_ftrace = &ftrace;
    shell->m_engine->set_task_stacks(shell.get());
    shell->objects_loaded();
    // The truth only: no policy view is checked, every task's shadow stack is kept.
    unwinder::CheckerConfig config;
    config.policies = {shell->m_policy};
    config.check_interrupted = false;
    config.check_blocked = false;
    shell->m_truth = std::make_unique<unwinder::MachineChecker>(machine, config, &shell->m_cfi);
    shell->m_walker =
        std::make_unique<unwinder::TaskWalker>(machine, shell->m_policy, &shell->m_cfi);
    for (const std::string& p : observed) {
        if (p != shell->m_policy) {
            shell->m_judged.push_back(
                {p, std::make_unique<unwinder::TaskWalker>(machine, p, &shell->m_cfi), {}});
        }
    }
    return shell;
}

void LivepatchShell::objects_loaded() {
    const auto& sections = m_machine.cfi_sections();
    for (; m_cfi_sections < sections.size(); ++m_cfi_sections) {
        (void)m_cfi.add_section(sections[m_cfi_sections]);
    }
    if (m_truth) {
        m_truth->checker().refresh_symbols();
    }
}

void LivepatchShell::wire_graph_stacks() {
    for (; m_graph_wired < m_machine.task_count(); ++m_graph_wired) {
        const GraphReturnStack* g = &m_ftrace->graph_return_stack(m_graph_wired);
        m_walker->set_graph_stack(m_graph_wired, g);
        for (auto& j : m_judged) {
            j.walker->set_graph_stack(m_graph_wired, g);
        }
        m_truth->set_graph_stack(m_graph_wired, g);
    }
}

emu::StackWalkResult LivepatchShell::save_task_reliable(int task) {
    wire_graph_stacks();
    auto trace = m_walker->save_task_reliable(task);
    m_own.asked++;
    judge(m_own, trace, task);
    judge_policies(task);
    return trace;
}

// A policy's decision for one stack check: a reliable trace without a function being replaced
// switches the task; that is premature when the true stack holds one.
void LivepatchShell::judge(TransitionVerdict& verdict, const emu::StackWalkResult& trace,
                           int task) {
    const auto& engine = *m_engine;
    if (!trace.reliable || engine.holds_function_being_replaced(trace.entries)) {
        return;
    }
    verdict.would_switch++;
    if (auto truth = true_stack(task); truth && engine.holds_function_being_replaced(*truth)) {
        verdict.premature++;
    }
}

void LivepatchShell::judge_policies(int task) {
    for (auto& j : m_judged) {
        j.verdict.asked++;
        judge(j.verdict, j.walker->save_task_reliable(task), task);
    }
}

std::optional<TransitionVerdict> LivepatchShell::transition_verdict(std::string_view policy) const {
    if (policy == m_policy) {
        return m_own.asked ? std::optional(m_own) : std::nullopt;
    }
    for (const auto& j : m_judged) {
        if (j.policy == policy) {
            return j.verdict.asked ? std::optional(j.verdict) : std::nullopt;
        }
    }
    return std::nullopt;
}

std::optional<std::vector<GuestAddr>> LivepatchShell::true_stack(int task) {
    wire_graph_stacks();
    const unwinder::GroundTruth* truth = m_truth->checker().truth(task);
    if (!truth || !truth->complete()) {
        return std::nullopt;
    }
    const emu::Task& t = m_machine.task(task);
    GuestAddr pc(t.saved.pc);
    if (t.state == emu::TaskState::Running) {
        pc = GuestAddr(m_machine.cpu_state(t.cpu).pc);
    }
    std::vector<GuestAddr> out;
    truth->return_addresses(pc, out);
    return out;
}

Result<int64_t> LivepatchShell::host_op(ShellHost& host, HostOp op, uint64_t a, uint64_t b) {
    const uint64_t args[] = {uint64_t(op), a, b};
    auto outcome = host.call_task(m_engine->host_op_entry(), "klp_host_op", args, false);
    if (!outcome) {
        return outcome.error();
    }
    if (outcome->stop != RunStop::Done) {
        return make_error("livepatch: the host operation did not return");
    }
    return int64_t(outcome->value);
}

Result<bool> LivepatchShell::service(ShellHost& host) {
    if (m_in_work || !m_engine->work_due()) {
        return false;
    }
    m_in_work = true;
    auto r = host_op(host, HostOp::TransitionWork);
    m_in_work = false;
    if (!r) {
        return r.error();
    }
    return true;
}

Result<RunStop> LivepatchShell::run(ShellHost& host, const ShellAction& action) {
    switch (action.kind) {
    case ShellAction::Kind::Insmod:
        return insmod(host, action);
    case ShellAction::Kind::Rmmod:
        return rmmod(host, action);
    case ShellAction::Kind::Echo:
        return echo(host, action);
    case ShellAction::Kind::Cat:
        return cat(host, action);
    case ShellAction::Kind::Wait:
        return wait(host, action);
    case ShellAction::Kind::Sysctl: {
        const bool on = action.value == "1";
        if (m_engine->set_ftrace_enabled(on) != 0) {
            host.note(fmt::format("livepatch: sysctl: setting key \"{}\": {}", action.name,
                                  errno_text(16)));
        } else {
            host.note(fmt::format("livepatch: {} = {}", action.name, action.value));
        }
        return RunStop::Done;
    }
    }
    return RunStop::Done;
}

// module_param records (`__param_NAME`, klp_layout.h) written before init, as load_module's
// parse_args does.
Result<void> LivepatchShell::set_params(const ShellAction& action) {
    for (const std::string& p : action.params) {
        const size_t eq = p.find('=');
        KLP_TRY(write_param(action.name, p.substr(0, eq), expand_user_pids(p.substr(eq + 1), m_machine),
                            "insmod"));
    }
    return {};
}

// One module parameter of a loaded module: param_set_int/param_set_bool's parsing.
Result<void> LivepatchShell::write_param(const std::string& module, const std::string& name,
                                         const std::string& value, std::string_view who) {
    emu::GuestMemory& mem = m_machine.memory();
    auto rec = m_machine.symbols().lookup_in(module, fmt::format("__param_{}", name));
    if (!rec) {
        return make_error("{} {}: unknown parameter '{}' (no module_param({}, ...))", who, module,
                          name, name);
    }
    const GuestAddr arg(mem.load<uint64_t>(rec->addr + int64_t(L::kParamArg)));
    const uint32_t type = mem.load<uint32_t>(rec->addr + int64_t(L::kParamType));
    const uint32_t size = mem.load<uint32_t>(rec->addr + int64_t(L::kParamSize));
    if (type == L::kParamTypeArray) {
        return set_array_param(module, name, arg, value);
    }
    if (type != L::kParamTypeScalar) {
        return make_error("{} {}: parameter '{}': only integer and bool parameters are supported",
                          who, module, name);
    }
    uint64_t v = 0;
    if (value == "Y" || value == "y" || value == "true") {
        v = 1;
    } else if (value == "N" || value == "n" || value == "false") {
        v = 0;
    } else {
        try {
            v = uint64_t(std::stoll(value, nullptr, 0));
        } catch (...) {
            return make_error("{} {}: parameter '{}': '{}' is not a number", who, module, name,
                              value);
        }
    }
    if (size == 1) {
        mem.store<uint8_t>(arg, uint8_t(v));
    } else if (size == 4) {
        mem.store<uint32_t>(arg, uint32_t(v));
    } else {
        mem.store<uint64_t>(arg, v);
    }
    return {};
}

// param_array_set: `v1,v2,...` into the array (at most its size), the count into *num.
Result<void> LivepatchShell::set_array_param(const std::string& module, const std::string& name,
                                             GuestAddr array, const std::string& value) {
    emu::GuestMemory& mem = m_machine.memory();
    const uint32_t max = mem.load<uint32_t>(array + int64_t(L::kArrMax));
    const uint32_t elem_size = mem.load<uint32_t>(array + int64_t(L::kArrElemSize));
    const GuestAddr num(mem.load<uint64_t>(array + int64_t(L::kArrNum)));
    const GuestAddr elem(mem.load<uint64_t>(array + int64_t(L::kArrElem)));
    uint32_t count = 0;
    for (size_t start = 0; start <= value.size();) {
        const size_t comma = std::min(value.find(',', start), value.size());
        const std::string item = value.substr(start, comma - start);
        if (count == max) {
            return make_error("insmod {}: parameter '{}': more than {} values", module, name, max);
        }
        uint64_t v = 0;
        try {
            v = uint64_t(std::stoll(item, nullptr, 0));
        } catch (...) {
            return make_error("insmod {}: parameter '{}': '{}' is not a number", module, name,
                              item);
        }
        const GuestAddr slot = elem + int64_t(uint64_t(count) * elem_size);
        if (elem_size == 4) {
            mem.store<uint32_t>(slot, uint32_t(v));
        } else {
            mem.store<uint64_t>(slot, v);
        }
        ++count;
        start = comma + 1;
    }
    if (num.value != 0) {
        mem.store<uint32_t>(num, count);
    }
    return {};
}

// load_module: place and link, parameters, klp_module_coming (MODULE_STATE_COMING), the init,
// MODULE_STATE_LIVE, free init memory. A failure unloads and prints insmod's error.
Result<RunStop> LivepatchShell::insmod(ShellHost& host, const ShellAction& action) {
    const std::string shown = fmt::format("test_modules/{}.ko", action.name);
    KLP_TRY(host.place_module(action.name));
    objects_loaded();
    KLP_TRY(set_params(action));
    const uint64_t index = m_engine->module_index(action.name);
    auto fail = [&](int64_t err) -> Result<RunStop> {
        KLP_TRY(host.unload_module(action.name));
        host.note(
            fmt::format("insmod: ERROR: could not insert module {}: {}", shown, errno_text(-err)));
        return RunStop::Done;
    };
    // apply_relocations: a livepatch module's `.klp.rela.vmlinux.*` sections, before anything runs.
    if (const int64_t r = m_engine->apply_load_relocations(action.name); r != 0) {
        return fail(r);
    }
    m_engine->set_module_state(action.name, uint32_t(L::ModuleState::Coming));
    auto coming = host_op(host, HostOp::ModuleComing, index);
    KLP_TRY(coming);
    if (*coming != 0) {
        m_engine->set_module_state(action.name, uint32_t(L::ModuleState::Going));
        return fail(*coming);
    }
    if (auto init = m_machine.symbols().lookup_in(action.name, "init_module")) {
        auto outcome = host.call_task(init->addr, fmt::format("{}:init", action.name), {}, false);
        KLP_TRY(outcome);
        if (outcome->stop != RunStop::Done) {
            host.output(fmt::format("({}: module_init did not return)", action.name));
            return outcome->stop;
        }
        const int64_t ret = int64_t(int32_t(uint32_t(outcome->value)));
        if (ret != 0) {
            m_engine->set_module_state(action.name, uint32_t(L::ModuleState::Going));
            KLP_TRY(host_op(host, HostOp::ModuleGoing, index));
            return fail(ret);
        }
    }
    m_engine->set_module_state(action.name, uint32_t(L::ModuleState::Live));
    KLP_TRY(host.free_module_init(action.name));
    return RunStop::Done;
}

// delete_module: refused while the module's patch is registered; else MODULE_STATE_GOING, the
// exit function, klp_module_going, unload.
Result<RunStop> LivepatchShell::rmmod(ShellHost& host, const ShellAction& action) {
    if (m_engine->module_in_use(action.name)) {
        host.output(fmt::format("rmmod: ERROR: Module {} is in use", action.name));
        return RunStop::Done;
    }
    const uint64_t index = m_engine->module_index(action.name);
    m_engine->set_module_state(action.name, uint32_t(L::ModuleState::Going));
    if (auto exit = m_machine.symbols().lookup_in(action.name, "cleanup_module")) {
        auto outcome = host.call_task(exit->addr, fmt::format("{}:exit", action.name), {}, false);
        KLP_TRY(outcome);
    }
    KLP_TRY(host_op(host, HostOp::ModuleGoing, index));
    KLP_TRY(host.unload_module(action.name));
    return RunStop::Done;
}

Result<RunStop> LivepatchShell::echo(ShellHost& host, const ShellAction& action) {
    if (action.name == "/dev/kmsg") {
        return kmsg(host, action.value);
    }
    if (action.name == "/sys/kernel/debug/dynamic_debug/control") {
        m_engine->set_switch_debug(action.value.ends_with("+p"));
        return RunStop::Done;
    }
    if (constexpr std::string_view params = "/parameters/";
        action.name.starts_with("/sys/module/")) {
        // /sys/module/MODULE/parameters/PARAM of a loaded module (mode 0644 assumed).
        const std::string_view rest = std::string_view(action.name).substr(12);
        const size_t at = rest.find(params);
        const std::string module(rest.substr(0, at));
        const std::string param(at == std::string_view::npos ? ""
                                                             : rest.substr(at + params.size()));
        if (param.empty() || !m_machine.symbols().lookup_in(module, "__param_" + param)) {
            host.output(fmt::format("-bash: {}: No such file or directory", action.name));
            return RunStop::Done;
        }
        KLP_TRY(write_param(module, param, action.value, "echo"));
        return RunStop::Done;
    }
    constexpr std::string_view root = "/sys/kernel/livepatch/";
    const std::string_view rest = std::string_view(action.name).substr(root.size());
    const size_t slash = rest.find('/');
    const std::string patch(rest.substr(0, slash));
    const std::string attr(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
    const auto index = m_engine->patch_index(patch);
    if (!index || (attr != "enabled" && attr != "force")) {
        host.output(fmt::format("-bash: {}: No such file or directory", action.name));
        return RunStop::Done;
    }
    if (action.value != "0" && action.value != "1") {
        host.output(fmt::format("-bash: echo: write error: {}", errno_text(22)));
        return RunStop::Done;
    }
    const HostOp op = attr == "enabled" ? HostOp::WriteEnabled : HostOp::WriteForce;
    auto r = host_op(host, op, *index, action.value == "1" ? 1 : 0);
    KLP_TRY(r);
    if (*r != 0) {
        host.output(fmt::format("-bash: echo: write error: {}", errno_text(-*r)));
    }
    return RunStop::Done;
}

Result<RunStop> LivepatchShell::cat(ShellHost& host, const ShellAction& action) {
    if (action.name.starts_with("/proc/")) {
        // fs/proc: /proc/NAME is NAME_proc_show(seq_file, NULL) (cmdline, meminfo, ...).
        const std::string show_fn = fmt::format("{}_proc_show", action.name.substr(6));
        auto show = m_machine.symbol(show_fn);
        if (!show) {
            host.output(fmt::format("cat: {}: No such file or directory", action.name));
            return RunStop::Done;
        }
        (void)m_engine->take_seq_output();
        const uint64_t args[] = {m_engine->seq_file().value, 0};
        auto outcome = host.call_task(*show, "cat", args, true);
        KLP_TRY(outcome);
        std::string out = m_engine->take_seq_output();
        // `cat FILE > /dev/kmsg` (the selftests' `grep ... > /dev/kmsg`): into the kernel log.
        const bool to_kmsg = action.value == "/dev/kmsg";
        size_t start = 0;
        while (start < out.size()) {
            const size_t nl = std::min(out.find('\n', start), out.size());
            std::string line = out.substr(start, nl - start);
            start = nl + 1;
            if (!action.grep.empty() && line.find(action.grep) == std::string::npos) {
                continue;
            }
            to_kmsg ? host.note(std::move(line)) : host.output(std::move(line));
        }
        return outcome->stop;
    }
    if (auto file = m_engine->sysfs_file(action.name)) {
        auto text = read_kobj_file(host, *file);
        host.output(text ? *text : fmt::format("cat: {}: {}", action.name, text.error().message));
        return RunStop::Done;
    }
    auto text = m_engine->read_sysfs(action.name);
    if (!text) {
        host.output(fmt::format("cat: {}: {}", action.name, text.error().message));
    } else {
        host.output(*text);
    }
    return RunStop::Done;
}

// A module's /sys/kernel file: kobj_attr_show -> attr->show(kobj, attr, page) in a user task.
Result<std::string>
LivepatchShell::read_kobj_file(ShellHost& host, const patcher::livepatch::SysfsTree::File& file) {
    const GuestAddr page = m_engine->sysfs_page();
    m_machine.memory().store<uint8_t>(page, 0);
    if (file.show.value == 0) {
        return make_error("Permission denied");
    }
    const uint64_t args[] = {file.kobj.value, file.attr.value, page.value};
    auto outcome = host.call_task(file.show, "cat", args, true);
    KLP_TRY(outcome);
    if (outcome->stop != RunStop::Done) {
        return make_error("show() did not return");
    }
    std::string out = patcher::livepatch::read_guest_string(m_machine.memory(), page, 4096);
    while (!out.empty() && out.back() == '\n') {
        out.pop_back();
    }
    return out;
}

// The selftests' log(): `echo "TEXT" > /dev/kmsg`, each $(cat FILE) in TEXT replaced by the
// file's text (a module's /sys/kernel file or a livepatch sysfs attribute).
Result<RunStop> LivepatchShell::kmsg(ShellHost& host, std::string text) {
    constexpr std::string_view open = "$(cat ";
    for (size_t at = text.find(open); at != std::string::npos; at = text.find(open, at)) {
        const size_t close = text.find(')', at);
        if (close == std::string::npos) {
            break;
        }
        const std::string path = text.substr(at + open.size(), close - at - open.size());
        std::string value;
        if (auto file = m_engine->sysfs_file(path)) {
            auto read = read_kobj_file(host, *file);
            value = read ? *read : std::string();
        } else if (auto attr = m_engine->read_sysfs(path)) {
            value = *attr;
        }
        text.replace(at, close + 1 - at, value);
        at += value.size();
    }
    host.note(text);
    return RunStop::Done;
}

// The selftests' wait_for_transition: poll `transition` until 0, at most kWaitSeconds.
Result<RunStop> LivepatchShell::wait(ShellHost& host, const ShellAction& action) {
    const uint64_t hz = patcher::livepatch::LivepatchOptions{}.instructions_per_second;
    const uint64_t deadline = m_machine.instructions() + kWaitSeconds * hz;
    while (m_engine->in_transition(action.name) && m_machine.instructions() < deadline) {
        const uint64_t next = std::min(m_engine->next_work_at(), deadline);
        RunStop stop = RunStop::Done;
        if (next > m_machine.instructions()) {
            auto r = host.run_for(next - m_machine.instructions());
            KLP_TRY(r);
            stop = *r;
        }
        if (stop == RunStop::BudgetExhausted) {
            return stop;
        }
        auto ran = service(host);
        KLP_TRY(ran);
        if (!*ran && stop == RunStop::Idle && m_engine->in_transition(action.name)) {
            // Every CPU idles: time passes with nothing run until the work's timer fires (the
            // next round services it) or the wait gives up.
            m_machine.pass_idle_time(next);
        }
    }
    if (m_engine->in_transition(action.name)) {
        host.output("ERROR: failed to complete transition");
    }
    return RunStop::Done;
}

} // namespace klpemu::scenario
