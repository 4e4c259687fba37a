// The step debugger's dispatcher and its moving and stopping commands (see step_debugger.h).
// Looking commands are in step_views.cpp and step_backtrace.cpp.
#include "tools/step_debugger.h"

#include "emu/line_table.h"
#include "emu/machine.h"
#include "scenarios/unwind_check.h"
#include "tools/step_text.h"
#include "unwinder/branch_class.h"
#include "unwinder/unwinder.h"

#include <fmt/format.h>

#include <algorithm>

namespace klpemu::tools {

using scenario::ResumeRules;
using scenario::StopAt;

namespace {

const char* watch_kind_prefix(scenario::WatchKind k) {
    switch (k) {
    case scenario::WatchKind::Write:
        return "";
    case scenario::WatchKind::Read:
        return "read ";
    case scenario::WatchKind::Access:
        return "access ";
    }
    return "";
}

} // namespace

Debugger::Debugger(std::unique_ptr<scenario::StepSession> session)
    : m_session(std::move(session)) {}

const std::vector<Debugger::Command>& Debugger::commands() {
    static const std::vector<Command> table = {
        {"stepi", "si", &Debugger::cmd_stepi, "stepi [N]: N instructions of the focused task"},
        {"nexti", "ni", &Debugger::cmd_nexti, "nexti: one instruction, stepping over a call"},
        {"next", "n", &Debugger::cmd_next,
         "next: to the next source line, stepping over calls (nexti without line info)"},
        {"continue", "c", &Debugger::cmd_continue, "continue: run to a breakpoint or event"},
        {"finish", "fin", &Debugger::cmd_finish, "finish: run until the function returns"},
        {"until", "u", &Debugger::cmd_until, "until SYMBOL|ADDR: run until the focus gets there"},
        {"step-event", "se", &Debugger::cmd_step_event,
         "step-event [patch|switch|transition|finding|irq]: run to the next such event"},
        {"timeline", "tl", &Debugger::cmd_timeline, "timeline: the scenario's steps"},
        {"do", "", &Debugger::cmd_do, "do: run the next timeline step"},
        {"reverse-stepi", "rsi", &Debugger::cmd_reverse_stepi,
         "reverse-stepi [N]: back N instructions of the focused task"},
        {"reverse-continue", "rc", &Debugger::cmd_reverse_continue,
         "reverse-continue: back to the previous breakpoint or event"},
        {"back", "", &Debugger::cmd_back, "back N: back N instructions of the machine"},
        {"goto", "", &Debugger::cmd_goto, "goto N: to instruction N of the machine"},
        {"break", "b", &Debugger::cmd_break,
         "break SYMBOL|ADDR|FILE:LINE [task NAME] | break on patch|switch|transition|finding|irq"},
        {"watch", "", &Debugger::cmd_watch, "watch ADDR [LEN]: stop when guest memory changes"},
        {"rwatch", "", &Debugger::cmd_rwatch, "rwatch ADDR [LEN]: stop after a load reads it"},
        {"awatch", "", &Debugger::cmd_awatch, "awatch ADDR [LEN]: stop after a read or a change"},
        {"delete", "d", &Debugger::cmd_delete, "delete [N]: delete breakpoint N (or all)"},
        {"info", "i", &Debugger::cmd_info, "info breaks | info checkpoints | info digest"},
        {"regs", "r", &Debugger::cmd_regs, "regs: registers of the focused task"},
        {"x", "", &Debugger::cmd_examine, "x/Nx ADDR: N 64-bit words of guest memory"},
        {"disas", "", &Debugger::cmd_disas, "disas [ADDR]: instructions around PC (or ADDR)"},
        {"bt", "", &Debugger::cmd_bt,
         "bt [TASK]: the stack as each unwinder policy sees it, beside the ground truth"},
        {"tasks", "", &Debugger::cmd_tasks, "tasks: state, CPU, patch_state, TIF_PATCH_PENDING"},
        {"patches", "", &Debugger::cmd_patches, "patches: call sites, text writes, livepatch"},
        {"plt", "", &Debugger::cmd_plt, "plt MODULE: the module's PLTs"},
        {"log", "", &Debugger::cmd_log, "log: transcript lines and guest log so far"},
        {"cycles", "", &Debugger::cmd_cycles, "cycles: instructions and cycles per CPU and task"},
        {"findings", "", &Debugger::cmd_findings, "findings: every finding so far"},
        {"where", "", &Debugger::cmd_where, "where: the current stop"},
        {"cpu", "", &Debugger::cmd_cpu, "cpu N: focus on the task running on CPU N"},
        {"task", "", &Debugger::cmd_task, "task NAME: focus on a task"},
        {"help", "h", &Debugger::cmd_help, "help: this list"},
        {"quit", "q", &Debugger::cmd_quit, "quit"},
    };
    return table;
}

std::string Debugger::execute(std::string_view line) {
    line = trim(line);
    if (line.empty() || line.front() == '#') {
        return {};
    }
    std::string_view name = line;
    std::string_view args;
    const size_t cut = line.find_first_of(" \t/");
    if (cut != std::string_view::npos) {
        name = line.substr(0, cut);
        args = trim(line.substr(cut));
    }
    for (const Command& c : commands()) {
        if (name == c.name || (!c.alias.empty() && name == c.alias)) {
            if (!running_machine() && c.name != "help" && c.name != "quit") {
                return "error: the scenario is no longer running\n";
            }
            return (this->*c.handler)(args);
        }
    }
    return fmt::format("error: unknown command '{}' (try 'help')\n", name);
}

std::string Debugger::execute_script(std::string_view text) {
    std::string out;
    for (const std::string& cmd : script_commands(text)) {
        if (m_quit) {
            break;
        }
        out += fmt::format("(klpemu) {}\n", cmd);
        out += execute(cmd);
    }
    return out;
}

int Debugger::focus_task() const {
    const auto& s = m_session->stop();
    if (m_focus >= 0) {
        return m_focus;
    }
    return s.at == StopAt::Instruction ? s.task : -1;
}

int Debugger::focus_cpu() const {
    const int task = focus_task();
    const emu::Machine* machine = m_session->access().machine;
    if (task < 0 || machine == nullptr || task >= machine->task_count()) {
        return -1;
    }
    const emu::Task& t = machine->task(task);
    return machine->current_task(t.cpu) == task && !t.finished() ? t.cpu : -1;
}

bool Debugger::running_machine() const {
    return m_session->access().machine != nullptr;
}

std::string Debugger::stop_line() const {
    const auto& s = m_session->stop();
    const emu::Machine* machine = m_session->access().machine;
    switch (s.at) {
    case StopAt::StepBoundary: {
        const auto& steps = m_session->scenario().steps;
        return fmt::format("#{} before step {}: {}", s.clock, s.steps_started + 1,
                           s.steps_started < steps.size() ? steps[s.steps_started].text : "?");
    }
    case StopAt::End:
        return fmt::format("#{} {}", s.clock, s.reason);
    case StopAt::Instruction:
        break;
    }
    std::string task = machine != nullptr && s.task >= 0 ? machine->task(s.task).name : "?";
    std::string line =
        fmt::format("#{} cpu{} {} {}: {}", s.clock, s.cpu, task,
                    machine != nullptr ? machine->symbolize(s.pc).str() : "?", disassemble(s.pc));
    if (s.reason != "step" && s.reason != "reached") {
        line += fmt::format("  ({})", s.reason);
    }
    return line;
}

std::string Debugger::moved(const Result<void>& r) {
    if (!r) {
        return fmt::format("error: {}\n", r.error().message);
    }
    const auto& s = m_session->stop();
    if (s.at == StopAt::Instruction) {
        m_focus = s.task;
    }
    return stop_line() + "\n";
}

Result<void> Debugger::resume_with(const ResumeRules& rules) {
    return m_session->resume(rules);
}

Result<void> Debugger::step_instructions(int task, uint64_t count) {
    const auto& s = m_session->stop();
    if (count == 0) {
        return {};
    }
    if (task < 0) {
        // `count` instructions of the machine, not clock ticks: idle time has no instruction, so
        // a stretch that crosses it is stepped again for what it fell short. An instruction's
        // place is its clock less the idle time before it.
        // (The session may replace its machine when it moves: ask for it each time.)
        auto place = [&] {
            return m_session->stop().clock - m_session->access().machine->idle_time();
        };
        bool from_instruction = s.at == StopAt::Instruction;
        uint64_t left = count;
        for (;;) {
            const uint64_t from = place();
            const uint64_t clock = m_session->stop().clock;
            KLP_TRY(m_session->go_to_clock((from_instruction ? clock + 1 : clock) + left - 1));
            const auto& now = m_session->stop();
            const uint64_t stepped = place() - from + (from_instruction ? 0 : 1);
            if (now.at != StopAt::Instruction || stepped >= left || now.clock == clock) {
                return {};
            }
            left -= stepped;
            from_instruction = true;
        }
    }
    const emu::Machine& machine = *m_session->access().machine;
    if (machine.task(task).finished()) {
        return make_error("task {} has exited", machine.task(task).name);
    }
    ResumeRules rules;
    rules.step_task = task;
    rules.task_steps = count;
    return resume_with(rules);
}

Result<void> Debugger::reverse_step_instructions(int task, uint64_t count) {
    const auto& s = m_session->stop();
    uint64_t target = s.clock;
    if (task < 0) {
        const auto back = m_session->instruction_back(target, count);
        if (!back) {
            return make_error("only {} instructions ran before this point",
                              target - m_session->access().machine->idle_time());
        }
        return m_session->go_to_clock(*back);
    }
    for (uint64_t i = 0; i < count; ++i) {
        auto prev = m_session->previous_instruction(task, target);
        if (!prev) {
            return make_error("task {} ran no earlier instruction",
                              m_session->access().machine->task(task).name);
        }
        target = *prev;
    }
    return m_session->go_to_clock(target);
}

Result<void> Debugger::continue_forward() {
    return resume_with(ResumeRules{});
}

Result<void> Debugger::reverse_continue() {
    return m_session->reverse_continue();
}

void Debugger::save_state(scenario::WireWriter& out) const {
    out.i64(m_focus);
    out.i64(m_next_id);
}

void Debugger::adopt_state(scenario::WireReader& in) {
    m_focus = int(in.i64());
    m_next_id = int(in.i64());
    m_quit = false;
}

std::string Debugger::cmd_stepi(std::string_view args) {
    auto n = args.empty() ? Result<uint64_t>(1) : parse_number(args);
    if (!n) {
        return fmt::format("error: stepi: {}\n", n.error().message);
    }
    return moved(step_instructions(focus_task(), *n));
}

std::string Debugger::cmd_nexti(std::string_view args) {
    if (!args.empty()) {
        return "error: nexti takes no argument\n";
    }
    return moved(next_instruction());
}

Result<void> Debugger::next_instruction() {
    const int task = focus_task();
    const int cpu = focus_cpu();
    const auto& s = m_session->stop();
    if (task >= 0 && cpu >= 0 && s.at == StopAt::Instruction && s.task == task) {
        const emu::Machine& machine = *m_session->access().machine;
        const auto word = machine.memory().load<uint32_t>(s.pc);
        if (unwinder::classify(s.pc, InsnWord(word)).kind == unwinder::BranchKind::Call) {
            ResumeRules rules;
            rules.temp_pc = s.pc + 4;
            rules.temp_task = task;
            rules.temp_sp = machine.read_x(cpu, 31) - 1;
            return resume_with(rules);
        }
    }
    return step_instructions(task, 1);
}

std::optional<Debugger::SourceLine> Debugger::source_line(GuestAddr pc) const {
    const emu::Machine& machine = *m_session->access().machine;
    const auto function = [&](GuestAddr a) {
        std::string f = machine.symbolize(a).str();
        return f.substr(0, f.find('+'));
    };
    const LineRow* best = nullptr;
    for (const LineRow& r : machine.lines()) {
        if (r.addr.value <= pc.value && (best == nullptr || r.addr.value > best->addr.value)) {
            best = &r;
        }
    }
    if (best == nullptr || function(best->addr) != function(pc)) {
        return std::nullopt; // No row covers pc's function.
    }
    SourceLine out{best->file, best->line, false};
    for (const LineRow& r : machine.lines()) {
        out.starts |= r.addr == pc && r.is_stmt;
    }
    return out;
}

std::string Debugger::cmd_next(std::string_view args) {
    if (!args.empty()) {
        return "error: next takes no argument\n";
    }
    const int task = focus_task();
    const int cpu = focus_cpu();
    const auto& s = m_session->stop();
    const auto start = s.at == StopAt::Instruction && s.task == task && cpu >= 0 ? source_line(s.pc)
                                                                                 : std::nullopt;
    if (!start) {
        return moved(next_instruction()); // No line information here: one instruction.
    }
    // As gdb's `next`: instructions (over calls) until the focused task reaches the first
    // instruction of another line, or leaves the function (its stack pointer rises above the
    // frame's), or anything else stops it (a breakpoint, an event, the end).
    const uint64_t frame_sp = m_session->access().machine->read_x(cpu, 31);
    constexpr uint64_t kLimit = 100'000;
    for (uint64_t i = 0; i < kLimit; ++i) {
        auto r = next_instruction();
        const auto& now = m_session->stop();
        if (!r || now.at != StopAt::Instruction || now.task != task ||
            (now.reason != "step" && now.reason != "reached")) {
            return moved(r);
        }
        const int now_cpu = focus_cpu();
        if (now_cpu >= 0 && m_session->access().machine->read_x(now_cpu, 31) > frame_sp &&
            !source_line(now.pc)) {
            return moved(r); // Returned into code without line information.
        }
        const auto line = source_line(now.pc);
        if (line && line->starts && (line->file != start->file || line->line != start->line)) {
            return moved(r);
        }
    }
    std::string out = moved({});
    out.pop_back();
    return fmt::format("{}  (next: still on {}:{} after {} instructions)\n", out,
                       start->file.substr(start->file.rfind('/') + 1), start->line, kLimit);
}

std::string Debugger::cmd_continue(std::string_view args) {
    if (!args.empty()) {
        return "error: continue takes no argument\n";
    }
    return moved(continue_forward());
}

std::string Debugger::cmd_finish(std::string_view) {
    const int task = focus_task();
    const int cpu = focus_cpu();
    if (task < 0 || cpu < 0) {
        return "error: finish: the focused task is not running\n";
    }
    const auto access = m_session->access();
    const emu::Machine& machine = *access.machine;
    std::optional<GuestAddr> ret;
    if (access.unwind != nullptr) {
        if (const auto* truth = access.unwind->checker().truth(task)) {
            const auto frames = truth->frames();
            if (!frames.empty() && frames.back().kind == unwinder::ShadowKind::Call) {
                ret = frames.back().return_address;
            }
        }
    }
    if (!ret) {
        ret = GuestAddr(machine.read_x(cpu, 30));
    }
    ResumeRules rules;
    rules.temp_pc = *ret;
    rules.temp_task = task;
    rules.temp_sp = machine.read_x(cpu, 31) - 1;
    return moved(resume_with(rules));
}

std::string Debugger::cmd_until(std::string_view args) {
    auto addr = parse_address(args);
    if (!addr) {
        return fmt::format("error: until: {}\n", addr.error().message);
    }
    ResumeRules rules;
    rules.temp_pc = *addr;
    rules.temp_task = focus_task();
    return moved(resume_with(rules));
}

std::string Debugger::cmd_step_event(std::string_view args) {
    scenario::EventBreaks wanted;
    if (args.empty()) {
        wanted = {true, true, true, true, true};
    }
    for (auto word : split_words(args)) {
        if (!set_event_break(wanted, word)) {
            return fmt::format("error: step-event: unknown event '{}' (patch, switch, transition, "
                               "finding, irq)\n",
                               word);
        }
    }
    auto& events = m_session->conditions().events;
    const scenario::EventBreaks saved = events;
    events = wanted;
    auto r = resume_with(ResumeRules{});
    events = saved;
    return moved(r);
}

std::string Debugger::cmd_timeline(std::string_view) {
    const auto& steps = m_session->scenario().steps;
    const auto& s = m_session->stop();
    std::string out;
    for (size_t i = 0; i < steps.size(); ++i) {
        std::string mark = "  ";
        if (s.at == StopAt::StepBoundary && i == s.steps_started) {
            mark = "=>"; // Runs next.
        } else if (s.at == StopAt::Instruction && i + 1 == s.steps_started) {
            mark = "->"; // Running.
        } else if (i < s.steps_started) {
            mark = "ok";
        }
        out += fmt::format("{} {:>3}  {}:{}  {}\n", mark, i + 1, steps[i].loc.line,
                           steps[i].loc.column, steps[i].text);
    }
    if (steps.empty()) {
        out = "the scenario has no timeline steps\n";
    }
    return out;
}

std::string Debugger::cmd_do(std::string_view) {
    ResumeRules rules;
    rules.step_boundaries = true;
    return moved(resume_with(rules));
}

std::string Debugger::cmd_reverse_stepi(std::string_view args) {
    auto n = args.empty() ? Result<uint64_t>(1) : parse_number(args);
    if (!n) {
        return fmt::format("error: reverse-stepi: {}\n", n.error().message);
    }
    return moved(reverse_step_instructions(focus_task(), *n));
}

std::string Debugger::cmd_reverse_continue(std::string_view) {
    return moved(reverse_continue());
}

std::string Debugger::cmd_back(std::string_view args) {
    auto n = parse_number(args);
    if (!n) {
        return fmt::format("error: back N: {}\n", n.error().message);
    }
    return moved(reverse_step_instructions(-1, *n));
}

std::string Debugger::cmd_goto(std::string_view args) {
    auto n = parse_number(args);
    if (!n) {
        return fmt::format("error: goto N: {}\n", n.error().message);
    }
    return moved(m_session->go_to_clock(*n));
}

std::string Debugger::cmd_break(std::string_view args) {
    auto words = split_words(args);
    if (words.empty()) {
        return "error: break SYMBOL|ADDR [task NAME] or break on EVENT\n";
    }
    auto& c = m_session->conditions();
    if (words[0] == "on") {
        if (words.size() != 2 || !set_event_break(c.events, words[1])) {
            return "error: break on patch|switch|transition|finding|irq\n";
        }
        return fmt::format("break on {}\n", words[1]);
    }
    auto where = break_locations(words[0]);
    if (!where) {
        return fmt::format("error: break {}: {}\n", words[0], where.error().message);
    }
    int task = -1;
    if (words.size() == 3 && words[1] == "task") {
        auto t = parse_task(words[2]);
        if (!t) {
            return fmt::format("error: break: {}\n", t.error().message);
        }
        task = *t;
    } else if (words.size() != 1) {
        return "error: break SYMBOL|ADDR|FILE:LINE [task NAME]\n";
    }
    const int id = m_next_id++;
    std::string at;
    for (GuestAddr pc : where->addrs) {
        c.breakpoints.push_back(scenario::Breakpoint{id, pc, task});
        at += fmt::format("{}{}", at.empty() ? "" : ", ",
                          m_session->access().machine->symbolize(pc).str());
    }
    return fmt::format("breakpoint {} at {}{}\n", id, at, where->line);
}

// SYMBOL|ADDR: one address. FILE:LINE: through the loaded objects' line tables, the first
// address of the line in each function that has code for it (gdb's linespec rule).
Result<Debugger::BreakLocations> Debugger::break_locations(std::string_view spec) const {
    const size_t colon = spec.rfind(':');
    if (colon == std::string_view::npos || spec.find("::") != std::string_view::npos ||
        colon == 0) {
        KLP_TRY_ASSIGN(addr, parse_address(spec));
        return BreakLocations{{addr}, ""};
    }
    const std::string_view file = spec.substr(0, colon);
    const auto line = parse_number(spec.substr(colon + 1));
    if (!line) { // A symbol with a colon in its name ("vmlinux:.data").
        KLP_TRY_ASSIGN(addr, parse_address(spec));
        return BreakLocations{{addr}, ""};
    }
    if (*line == 0 || *line > UINT32_MAX) {
        return make_error("line {} is not a line number", *line);
    }
    const emu::Machine& machine = *m_session->access().machine;
    KLP_TRY_ASSIGN(addrs, addresses_for_line(machine.lines(), file, uint32_t(*line)));
    BreakLocations out;
    std::vector<std::string> functions;
    for (GuestAddr a : addrs) { // Ascending: the first address of each function wins.
        std::string function = machine.symbolize(a).str();
        function = function.substr(0, function.find('+'));
        if (std::find(functions.begin(), functions.end(), function) == functions.end()) {
            functions.push_back(function);
            out.addrs.push_back(a);
        }
    }
    std::string name(file);
    for (const LineRow& r : machine.lines()) {
        if (r.file.ends_with(file)) {
            name = r.file.substr(r.file.rfind('/') + 1);
            break;
        }
    }
    out.line = fmt::format(" ({}:{}{})", name, *line,
                           out.addrs.size() > 1 ? fmt::format(", {} locations", out.addrs.size())
                                                : std::string());
    return out;
}

std::string Debugger::add_watch(std::string_view args, scenario::WatchKind kind) {
    auto words = split_words(args);
    if (words.empty() || words.size() > 2) {
        return "error: watch ADDR [LEN]\n";
    }
    auto addr = parse_address(words[0]);
    if (!addr) {
        return fmt::format("error: watch: {}\n", addr.error().message);
    }
    uint64_t len = 8;
    if (words.size() == 2) {
        auto n = parse_number(words[1]);
        if (!n || *n == 0 || *n > 64) {
            return "error: watch: LEN is 1..64 bytes\n";
        }
        len = *n;
    }
    if (!m_session->access().machine->memory().is_mapped(*addr, len)) {
        return fmt::format("error: watch: {:#x} is not mapped guest memory\n", addr->value);
    }
    scenario::Watchpoint w;
    w.id = m_next_id++;
    w.addr = *addr;
    w.len = uint32_t(len);
    w.kind = kind;
    m_session->conditions().watchpoints.push_back(w);
    return fmt::format("{}watchpoint {} at {} ({} bytes)\n", watch_kind_prefix(kind), w.id,
                       m_session->access().machine->symbolize(w.addr).str(), w.len);
}

std::string Debugger::cmd_delete(std::string_view args) {
    auto& c = m_session->conditions();
    if (args.empty()) {
        c = scenario::StopConditions{};
        return "deleted every breakpoint, watchpoint and event break\n";
    }
    if (args.starts_with("on ")) {
        scenario::EventBreaks off = c.events;
        const std::string_view what = trim(args.substr(3));
        scenario::EventBreaks probe;
        if (!set_event_break(probe, what)) {
            return "error: delete on patch|switch|transition|finding|irq\n";
        }
        off.patch &= !probe.patch;
        off.task_switch &= !probe.task_switch;
        off.transition &= !probe.transition;
        off.finding &= !probe.finding;
        off.irq &= !probe.irq;
        c.events = off;
        return fmt::format("no longer breaking on {}\n", what);
    }
    auto n = parse_number(args);
    if (!n) {
        return fmt::format("error: delete: {}\n", n.error().message);
    }
    const size_t before = c.breakpoints.size() + c.watchpoints.size();
    std::erase_if(c.breakpoints, [&](const auto& b) { return uint64_t(b.id) == *n; });
    std::erase_if(c.watchpoints, [&](const auto& w) { return uint64_t(w.id) == *n; });
    if (before == c.breakpoints.size() + c.watchpoints.size()) {
        return fmt::format("error: delete: no breakpoint {}\n", *n);
    }
    return fmt::format("deleted {}\n", *n);
}

std::string Debugger::cmd_info(std::string_view args) {
    if (args == "checkpoints") {
        return view_checkpoints();
    }
    if (args == "digest") {
        return view_digest();
    }
    if (args != "breaks" && args != "break" && args != "b" && args != "breakpoints") {
        return "error: info breaks | info checkpoints\n";
    }
    const auto& c = m_session->conditions();
    const emu::Machine& machine = *m_session->access().machine;
    std::string out;
    for (const auto& b : c.breakpoints) {
        out += fmt::format("{:>3}  break  {}{}\n", b.id, machine.symbolize(b.pc).str(),
                           b.task >= 0 ? fmt::format("  task {}", machine.task(b.task).name)
                                       : std::string());
    }
    for (const auto& w : c.watchpoints) {
        out += fmt::format("{:>3}  {}watch  {} ({} bytes)\n", w.id,
                           w.kind == scenario::WatchKind::Read     ? "r"
                           : w.kind == scenario::WatchKind::Access ? "a"
                                                                   : "",
                           machine.symbolize(w.addr).str(), w.len);
    }
    const auto& e = c.events;
    for (auto [on, name] : {std::pair{e.patch, "patch"}, std::pair{e.task_switch, "switch"},
                            std::pair{e.transition, "transition"}, std::pair{e.finding, "finding"},
                            std::pair{e.irq, "irq"}}) {
        if (on) {
            out += fmt::format("     on     {}\n", name);
        }
    }
    return out.empty() ? "no breakpoints\n" : out;
}

// Deterministic (no process ids): the interval, the bound, the clocks kept and what the last
// backward move replayed, which is how a test sees that a checkpoint was used.
std::string Debugger::view_checkpoints() const {
    const scenario::CheckpointStore& store = m_session->checkpoints();
    std::string out;
    if (!store.enabled()) {
        out = "checkpoints: off (going back replays from the start)\n";
    } else {
        std::string kept;
        for (const auto& c : store.list()) {
            kept += fmt::format(" {}", c.clock);
        }
        out = fmt::format("checkpoints: every {} instructions, at most {} kept; {} kept:{}\n",
                          store.options().interval, store.options().max, store.list().size(),
                          kept.empty() ? " none" : kept);
    }
    if (m_session->replays() == 0) {
        return out + "no backward move yet\n";
    }
    const auto from = m_session->last_move_from();
    return out +
           fmt::format("last backward move: replayed {} instructions from {}; all {}: {} "
                       "instructions\n",
                       m_session->last_move_replayed(),
                       from ? fmt::format("the checkpoint at {}", *from) : std::string("the start"),
                       m_session->replays(), m_session->replayed_instructions());
}

// Two hashes that compare whole sessions in one line: the machine digest the replay check uses
// (registers, cycles, tasks, clock, text writes) and one over every byte of guest memory.
std::string Debugger::view_digest() const {
    const emu::Machine& machine = *m_session->access().machine;
    uint64_t h = 1469598103934665603ULL;
    for (const auto& region : machine.memory().regions()) {
        const auto* p = reinterpret_cast<const uint8_t*>(region->host);
        for (uint64_t i = 0; i < region->range.size(); ++i) {
            h = (h ^ p[i]) * 1099511628211ULL;
        }
    }
    return fmt::format("machine digest {:#018x}, memory digest {:#018x}\n",
                       scenario::machine_digest(machine), h);
}

std::string Debugger::cmd_cpu(std::string_view args) {
    auto n = parse_number(args);
    const emu::Machine& machine = *m_session->access().machine;
    if (!n || *n >= uint64_t(machine.cpu_count())) {
        return fmt::format("error: cpu N: N is 0..{}\n", machine.cpu_count() - 1);
    }
    m_focus = machine.current_task(int(*n));
    return fmt::format("focus: cpu{} task {}\n", *n, machine.task(m_focus).name);
}

std::string Debugger::cmd_task(std::string_view args) {
    auto t = parse_task(args);
    if (!t) {
        return fmt::format("error: task: {}\n", t.error().message);
    }
    m_focus = *t;
    const emu::Task& task = m_session->access().machine->task(*t);
    return fmt::format("focus: task {} (cpu{})\n", task.name, task.cpu);
}

Result<int> Debugger::parse_task(std::string_view name) const {
    const emu::Machine& machine = *m_session->access().machine;
    for (int id = 0; id < machine.task_count(); ++id) {
        if (machine.task(id).name == name) {
            return id;
        }
    }
    std::string known;
    for (int id = 0; id < machine.task_count(); ++id) {
        known += (known.empty() ? "" : ", ") + machine.task(id).name;
    }
    return make_error("no task '{}' (tasks: {})", name, known);
}

std::string Debugger::cmd_where(std::string_view) {
    return stop_line() + "\n";
}

std::string Debugger::cmd_help(std::string_view) {
    std::string out;
    for (const Command& c : commands()) {
        out += fmt::format("  {:<18} {}\n",
                           c.alias.empty() ? std::string(c.name)
                                           : fmt::format("{} ({})", c.name, c.alias),
                           c.help);
    }
    return out;
}

std::string Debugger::cmd_quit(std::string_view) {
    m_quit = true;
    return {};
}

} // namespace klpemu::tools
