// The step debugger's looking commands (see step_debugger.h): registers, memory, disassembly,
// tasks with their livepatch state, call sites and text writes, module PLTs, the transcript so
// far, clocks and findings. Every view is plain text with symbolized addresses, so scripted
// sessions can be compared with golden files.
#include "emu/machine.h"
#include "patcher/ftrace.h"
#include "patcher/modules.h"
#include "scenarios/unwind_check.h"
#include "tools/step_debugger.h"
#include "tools/step_text.h"
#include "unwinder/unwinder.h"

#include <fmt/format.h>

namespace klpemu::tools {

namespace {

const char* task_kind_name(emu::TaskKind k) {
    switch (k) {
    case emu::TaskKind::Kthread:
        return "kthread";
    case emu::TaskKind::User:
        return "user";
    case emu::TaskKind::Idle:
        return "idle";
    }
    return "?";
}

const char* task_state_name(emu::TaskState s) {
    switch (s) {
    case emu::TaskState::Runnable:
        return "runnable";
    case emu::TaskState::Running:
        return "running";
    case emu::TaskState::Blocked:
        return "blocked";
    case emu::TaskState::Exited:
        return "exited";
    case emu::TaskState::Killed:
        return "killed";
    }
    return "?";
}

const char* site_state_name(patcher::CallSiteState s) {
    switch (s) {
    case patcher::CallSiteState::Compiled:
        return "compiled";
    case patcher::CallSiteState::Off:
        return "off";
    case patcher::CallSiteState::On:
        return "on";
    case patcher::CallSiteState::Broken:
        return "broken";
    }
    return "?";
}

} // namespace

Result<GuestAddr> Debugger::parse_address(std::string_view text) const {
    text = trim(text);
    if (text.empty()) {
        return make_error("an address is needed (0x..., SYMBOL, SYMBOL+OFF, $pc, $sp, $xN)");
    }
    const emu::Machine& machine = *m_session->access().machine;
    int64_t offset = 0;
    std::string_view base = text;
    if (const size_t plus = text.find_first_of("+-", 1); plus != std::string_view::npos) {
        auto off = parse_number(text.substr(plus + 1));
        if (!off) {
            return off.error();
        }
        offset = text[plus] == '+' ? int64_t(*off) : -int64_t(*off);
        base = trim(text.substr(0, plus));
    }
    if (base.starts_with("$")) {
        const emu::CpuState regs = task_registers(focus_task());
        const std::string_view r = base.substr(1);
        uint64_t v = 0;
        if (r == "pc") {
            v = regs.pc;
        } else if (r == "sp") {
            v = regs.sp;
        } else if (r == "lr") {
            v = regs.x[30];
        } else if (r == "fp") {
            v = regs.x[29];
        } else if (r.starts_with("x")) {
            auto n = parse_number(r.substr(1));
            if (!n || *n > 30) {
                return make_error("no register '{}'", base);
            }
            v = regs.x[*n];
        } else {
            return make_error("no register '{}'", base);
        }
        return GuestAddr(v + uint64_t(offset));
    }
    if (base.front() >= '0' && base.front() <= '9') {
        auto n = parse_number(base);
        if (!n) {
            return n.error();
        }
        return GuestAddr(*n + uint64_t(offset));
    }
    if (auto a = m_session->access().machine != nullptr ? machine.symbols().lookup(base)
                                                        : std::nullopt) {
        return a->addr + offset;
    }
    return make_error("no symbol '{}'", base);
}

emu::CpuState Debugger::task_registers(int task, bool* live) const {
    const emu::Machine& machine = *m_session->access().machine;
    emu::CpuState s;
    if (live != nullptr) {
        *live = false;
    }
    if (task < 0 || task >= machine.task_count()) {
        return s;
    }
    const emu::Task& t = machine.task(task);
    if (!t.finished() && machine.current_task(t.cpu) == task) {
        s = machine.cpu_state(t.cpu);
        const auto& stop = m_session->stop();
        if (stop.at == scenario::StopAt::Instruction && stop.cpu == t.cpu) {
            s.pc = stop.pc.value;
        }
        if (live != nullptr) {
            *live = true;
        }
        return s;
    }
    for (size_t i = 0; i < t.saved.x19_x28.size(); ++i) {
        s.x[19 + i] = t.saved.x19_x28[i];
    }
    s.x[29] = t.saved.fp;
    s.x[30] = t.saved.lr;
    s.sp = t.saved.sp;
    s.pc = t.saved.pc;
    return s;
}

std::string Debugger::disassemble(GuestAddr pc) const {
    const emu::Machine& machine = *m_session->access().machine;
    const uint8_t* p = machine.memory().host_ptr(pc, 4);
    if (p == nullptr) {
        return "<unmapped>";
    }
    uint32_t w = 0;
    std::memcpy(&w, p, 4);
    const DecodedInsn d = m_disassembler.decode(InsnWord(w), pc);
    if (!d.valid || !d.branch_target) {
        return d.text;
    }
    std::string text = d.text;
    const std::string hex = fmt::format("{:#x}", d.branch_target->value);
    if (const size_t at = text.find(hex); at != std::string::npos) {
        text.replace(at, hex.size(), machine.symbolize(*d.branch_target).str());
    }
    return text;
}

std::string Debugger::cmd_regs(std::string_view) {
    const int task = focus_task();
    if (task < 0) {
        return "error: no task in focus yet (stepi, or task NAME)\n";
    }
    const emu::Machine& machine = *m_session->access().machine;
    bool live = false;
    const emu::CpuState s = task_registers(task, &live);
    std::string out = fmt::format("task {} ({})\n", machine.task(task).name,
                                  live ? fmt::format("running on cpu{}", machine.task(task).cpu)
                                       : std::string("not running: its saved context"));
    auto reg = [&](std::string name, uint64_t v, bool code) {
        std::string sym;
        if (code && machine.symbols().function_at(GuestAddr(v))) {
            sym = fmt::format("  <{}>", machine.symbolize(GuestAddr(v)).str());
        }
        return fmt::format("{:<6}{:#018x}{}\n", name, v, sym);
    };
    for (int i = 0; i < 31; ++i) {
        if (!live && i < 19) {
            continue;
        }
        out += reg(i == 29   ? "fp"
                   : i == 30 ? "lr"
                             : fmt::format("x{}", i),
                   s.x[size_t(i)], i >= 29 || live);
    }
    out += reg("sp", s.sp, false);
    out += reg("pc", s.pc, true);
    if (live) {
        out += fmt::format("{:<6}{:#010x}  [{}{}{}{}]\n", "cpsr", s.pstate,
                           (s.pstate >> 31) & 1 ? "N" : "n", (s.pstate >> 30) & 1 ? "Z" : "z",
                           (s.pstate >> 29) & 1 ? "C" : "c", (s.pstate >> 28) & 1 ? "V" : "v");
    }
    return out;
}

std::string Debugger::cmd_examine(std::string_view args) {
    uint64_t count = 4;
    if (args.starts_with("/")) {
        const size_t sp = args.find_first_of(" \t");
        std::string_view fmt_text =
            args.substr(1, sp == std::string_view::npos ? args.npos : sp - 1);
        while (!fmt_text.empty() && (fmt_text.back() == 'x' || fmt_text.back() == 'g')) {
            fmt_text.remove_suffix(1);
        }
        if (!fmt_text.empty()) {
            auto n = parse_number(fmt_text);
            if (!n || *n == 0 || *n > 512) {
                return "error: x/Nx ADDR: N is 1..512\n";
            }
            count = *n;
        }
        args = sp == std::string_view::npos ? std::string_view{} : trim(args.substr(sp));
    }
    auto addr = parse_address(args);
    if (!addr) {
        return fmt::format("error: x: {}\n", addr.error().message);
    }
    const emu::Machine& machine = *m_session->access().machine;
    std::string out;
    for (uint64_t i = 0; i < count; ++i) {
        const GuestAddr a = *addr + int64_t(8 * i);
        const uint8_t* p = machine.memory().host_ptr(a, 8);
        if (p == nullptr) {
            out += fmt::format("{:#018x}: <unmapped>\n", a.value);
            break;
        }
        uint64_t v = 0;
        std::memcpy(&v, p, 8);
        std::string sym;
        if (machine.symbols().function_at(GuestAddr(v))) {
            sym = fmt::format("  <{}>", machine.symbolize(GuestAddr(v)).str());
        }
        out += fmt::format("{:#018x}: {:#018x}{}\n", a.value, v, sym);
    }
    return out;
}

std::string Debugger::cmd_disas(std::string_view args) {
    const emu::Machine& machine = *m_session->access().machine;
    GuestAddr start;
    GuestAddr mark;
    int count = 8;
    if (args.empty()) {
        const int task = focus_task();
        if (task < 0) {
            return "error: disas: no task in focus; disas ADDR\n";
        }
        mark = GuestAddr(task_registers(task).pc);
        start = mark - 16;
        count = 9;
        if (auto f = machine.symbols().function_at(mark); f && f->addr > start) {
            start = f->addr;
        }
    } else {
        auto a = parse_address(args);
        if (!a) {
            return fmt::format("error: disas: {}\n", a.error().message);
        }
        start = a->align_down(4);
    }
    if (!machine.memory().is_mapped(start, 4)) {
        return fmt::format("error: disas: {:#x} is not mapped\n", start.value);
    }
    std::string out;
    for (int i = 0; i < count; ++i) {
        const GuestAddr pc = start + int64_t(4 * i);
        if (!machine.memory().is_mapped(pc, 4)) {
            break;
        }
        out += fmt::format("{} {:<24} {}\n", pc == mark ? "=>" : "  ",
                           machine.symbolize(pc).str() + ":", disassemble(pc));
    }
    return out;
}

std::string Debugger::view_tasks() const {
    const emu::Machine& machine = *m_session->access().machine;
    std::string out = "   id  name                 kind     state     cpu  patch_state  "
                      "TIF_PATCH_PENDING\n";
    for (int id = 0; id < machine.task_count(); ++id) {
        const emu::Task& t = machine.task(id);
        std::string state = task_state_name(t.state);
        if (!t.finished() && machine.current_task(t.cpu) == id) {
            state = "on-cpu";
        }
        out += fmt::format("{} {:>3}  {:<20} {:<8} {:<9} {:>3}  {:<11}  {}",
                           id == focus_task() ? "*" : " ", id, t.name, task_kind_name(t.kind),
                           state, t.cpu, emu::patch_state_name(t.patch_state),
                           t.tif_patch_pending ? "set" : "-");
        for (const emu::DebugView* v : machine.debug_views()) {
            if (auto note = v->task_note(id); !note.empty()) {
                out += fmt::format("  {}: {}", v->name(), note);
            }
        }
        out += "\n";
    }
    return out;
}

std::string Debugger::cmd_tasks(std::string_view) {
    return view_tasks();
}

std::string Debugger::cmd_patches(std::string_view) {
    const auto access = m_session->access();
    const emu::Machine& machine = *access.machine;
    std::string out;
    if (access.ftrace != nullptr) {
        out += fmt::format("ftrace: trampoline {}\n",
                           machine.symbolize(access.ftrace->trampoline()).str());
        for (const auto& s : access.ftrace->sites()) {
            std::string detail = fmt::format("{}: {}", machine.symbolize(s.site.first_nop).str(),
                                             disassemble(s.site.first_nop));
            detail += fmt::format("; {}: {}", machine.symbolize(s.site.rec_ip).str(),
                                  disassemble(s.site.rec_ip));
            out += fmt::format("  {:<20} {:<8}  {}\n", s.site.function, site_state_name(s.state),
                               detail);
        }
        out += fmt::format("text writes: {} (ftrace's log: {} lines; `log` shows them)\n",
                           machine.text_writes(), access.ftrace->patch_log().size());
    } else {
        out += fmt::format("ftrace: not used by this scenario; text writes: {}\n",
                           machine.text_writes());
    }
    if (access.modules != nullptr) {
        for (const auto& m : access.modules->modules()) {
            out += fmt::format("module {}: core {}..{}, .plt {} of {} entries\n", m->name,
                               machine.symbolize(m->core.begin).str(),
                               machine.symbolize(m->core.end).str(), m->plt.used(),
                               m->plt.max_entries());
        }
    }
    if (machine.debug_views().empty()) {
        out += "livepatch: no engine attached to this machine\n";
    }
    for (const emu::DebugView* v : machine.debug_views()) {
        for (const auto& line : v->patch_lines()) {
            out += fmt::format("{}: {}\n", v->name(), line);
        }
    }
    return out;
}

std::string Debugger::cmd_plt(std::string_view args) {
    const auto access = m_session->access();
    if (access.modules == nullptr) {
        return "error: plt: this scenario loads no module\n";
    }
    const patcher::Module* m = access.modules->find(trim(args));
    if (m == nullptr) {
        std::string known;
        for (const auto& mod : access.modules->modules()) {
            known += (known.empty() ? "" : ", ") + mod->name;
        }
        return fmt::format("error: plt: no module '{}' (loaded: {})\n", trim(args),
                           known.empty() ? "none" : known);
    }
    std::string out;
    for (const auto& line : access.modules->describe(*m)) {
        out += line + "\n";
    }
    for (const patcher::PltSection* plt : {&m->plt, &m->init_plt}) {
        for (const auto& slot : plt->slots()) {
            for (int i = 0; i < 3; ++i) {
                const GuestAddr pc = slot.addr + int64_t(4 * i);
                out += fmt::format("  {}[{}] {:<28} {}\n", plt->name(), slot.index,
                                   access.machine->symbolize(pc).str() + ":",
                                   access.machine->memory().is_mapped(pc, 4) ? disassemble(pc)
                                                                             : "<freed>");
            }
        }
    }
    return out;
}

std::string Debugger::cmd_log(std::string_view) {
    std::string out;
    for (const auto& line : m_session->events()) {
        out += line + "\n";
    }
    const emu::Machine& machine = *m_session->access().machine;
    out += fmt::format("(guest log: {} lines; transcript lines of the running step appear once "
                       "it ends)\n",
                       machine.log().size());
    return out;
}

std::string Debugger::cmd_cycles(std::string_view) {
    const emu::Machine& machine = *m_session->access().machine;
    std::string out = fmt::format("machine: {} instructions\n", machine.instructions());
    for (int cpu = 0; cpu < machine.cpu_count(); ++cpu) {
        out += fmt::format("cpu{}: {} instructions, {} cycles ({})\n", cpu,
                           machine.cpu_instructions(cpu), machine.cpu_cycles(cpu),
                           machine.config().core);
    }
    for (int id = 0; id < machine.task_count(); ++id) {
        const emu::Task& t = machine.task(id);
        out +=
            fmt::format("task {}: {} instructions, {} cycles\n", t.name, t.instructions, t.cycles);
    }
    return out;
}

std::string Debugger::cmd_findings(std::string_view) {
    const auto access = m_session->access();
    std::string out;
    auto line = [](const Finding& f) {
        return fmt::format("#{} {}: {}: {}: {}{}\n", f.instruction, severity_name(f.severity),
                           f.kind, f.where, f.message,
                           f.task.empty() ? std::string() : fmt::format(" [{}]", f.task));
    };
    for (const Finding& f : access.machine->findings()) {
        out += line(f);
    }
    if (access.unwind != nullptr) {
        for (const Finding& f : access.unwind->checker().findings()) {
            out += line(f);
        }
    }
    return out.empty() ? "no findings\n" : out;
}

} // namespace klpemu::tools
