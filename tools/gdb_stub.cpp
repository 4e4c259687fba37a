// See gdb_stub.h. Packet names and replies follow gdb's "Remote Protocol" appendix; only what
// gdb-multiarch needs to attach, step, reverse-step, break, watch and read state is answered,
// everything else gets the empty reply that means "not supported".
#include "tools/gdb_stub.h"

#include "emu/check.h"
#include "emu/machine.h"
#include "tools/session_process.h"
#include "tools/step_text.h"

#include <fmt/format.h>

#include <cstdio>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace klpemu::tools {

using scenario::StopAt;

namespace {

constexpr int kBreakIdBase = 10000; // Breakpoints gdb inserts, apart from the REPL's numbering.

} // namespace

GdbStub::GdbStub(Debugger& debugger, int fd) : m_debugger(debugger), m_fd(fd) {
    m_debugger.session().set_poll([this] { poll_interrupt(); });
    if (m_debugger.focus_task() < 0) {
        m_debugger.set_focus_task(m_debugger.session().access().machine->current_task(0));
    }
}

GdbStub::~GdbStub() {
    m_debugger.session().set_poll({});
    ::close(m_fd);
}

bool GdbStub::read_more() {
    char buf[4096];
    const ssize_t n = ::recv(m_fd, buf, sizeof buf, 0);
    if (n <= 0) {
        return false;
    }
    m_reader.feed(std::string_view(buf, size_t(n)));
    return true;
}

void GdbStub::send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) {
            return;
        }
        bytes.remove_prefix(size_t(n));
    }
}

void GdbStub::send(std::string_view payload) {
    send_raw(gdb::frame(payload));
}

void GdbStub::poll_interrupt() {
    pollfd p{m_fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || (p.revents & POLLIN) == 0) {
        return;
    }
    char buf[256];
    const ssize_t n = ::recv(m_fd, buf, sizeof buf, 0);
    std::string rest;
    for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == '\x03') {
            m_debugger.session().interrupt();
        } else {
            rest += buf[i];
        }
    }
    m_reader.feed(rest);
}

void GdbStub::serve() {
    while (true) {
        bool bad = false;
        while (auto packet = m_reader.next(bad)) {
            if (bad) {
                send_raw("-");
                continue;
            }
            if (*packet != "\x03" && m_ack) {
                send_raw("+");
            }
            if (!handle(*packet)) {
                return;
            }
        }
        if (!read_more()) {
            return;
        }
    }
}

int GdbStub::thread_task(std::string_view id) const {
    if (id.empty() || id == "-1" || id == "0") {
        return -1;
    }
    auto n = gdb::parse_hex_number(id);
    const emu::Machine& machine = *m_debugger.session().access().machine;
    if (!n || *n == 0 || *n > uint64_t(machine.task_count())) {
        return -2;
    }
    return int(*n - 1);
}

std::string GdbStub::stop_reply(int signal) {
    const emu::Machine& machine = *m_debugger.session().access().machine;
    if (const int focus = m_debugger.focus_task(); focus < 0 || machine.task(focus).finished()) {
        // gdb forgets exited threads: report the task running on CPU 0 instead.
        m_debugger.set_focus_task(machine.current_task(0));
    }
    const int task = m_debugger.focus_task();
    std::string r = fmt::format("T{:02x}", signal);
    if (task >= 0) {
        r += fmt::format("thread:{:x};", task + 1);
    }
    r += std::exchange(m_stop_extra, {});
    return r;
}

bool GdbStub::handle(const std::string& packet) {
    if (m_debugger.session().access().machine == nullptr) {
        send("W00"); // The scenario is no longer running (a replay could not restart it).
        return false;
    }
    if (packet == "\x03") {
        send(stop_reply(2));
        return true;
    }
    if (packet.empty()) {
        send("");
        return true;
    }
    const std::string_view p = packet;
    const std::string_view args = p.substr(1);
    switch (p.front()) {
    case '?':
        send(stop_reply());
        return true;
    case 'q':
    case 'Q': {
        const std::string reply = query(p);
        send(reply);
        if (p == "QStartNoAckMode") {
            m_ack = false;
        }
        return true;
    }
    case 'g':
        send(read_registers());
        return true;
    case 'G':
        send(write_registers(args));
        return true;
    case 'p':
        send(read_register(args));
        return true;
    case 'P':
        send(write_register(args));
        return true;
    case 'm':
        send(read_memory(args));
        return true;
    case 'M':
        send(write_memory(args));
        return true;
    case 'Z':
        send(breakpoint(true, args));
        return true;
    case 'z':
        send(breakpoint(false, args));
        return true;
    case 'c':
        send(resume("c", m_step_task));
        return true;
    case 's':
        send(resume("s", m_step_task));
        return true;
    case 'b':
        if (args == "s" || args == "c") {
            send(resume(p, m_step_task));
        } else {
            send("");
        }
        return true;
    case 'H': {
        if (args.size() < 1) {
            send("E01");
            return true;
        }
        const int task = thread_task(args.substr(1));
        if (task == -2) {
            send("E01");
            return true;
        }
        if (args.front() == 'g' && task >= 0) {
            m_debugger.set_focus_task(task);
        } else if (args.front() == 'c') {
            m_step_task = task;
        }
        send("OK");
        return true;
    }
    case 'T': {
        const int task = thread_task(args);
        const emu::Machine& machine = *m_debugger.session().access().machine;
        send(task >= 0 && !machine.task(task).finished() ? "OK" : "E01");
        return true;
    }
    case 'v':
        if (p == "vCont?") {
            send("vCont;c;C;s;S");
        } else if (p.starts_with("vCont;")) {
            send(v_cont(p.substr(6)));
        } else if (p.starts_with("vKill")) {
            send("OK");
            return false;
        } else {
            send("");
        }
        return true;
    case 'D':
        send("OK");
        return false;
    case 'k':
        return false;
    default:
        send("");
        return true;
    }
}

std::string GdbStub::query(std::string_view p) {
    const emu::Machine& machine = *m_debugger.session().access().machine;
    if (p.starts_with("qSupported")) {
        return "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;ReverseStep+;"
               "ReverseContinue+;swbreak+;vContSupported+";
    }
    if (p == "QStartNoAckMode") {
        return "OK";
    }
    if (p.starts_with("qXfer:features:read:target.xml:")) {
        const std::string_view range =
            p.substr(std::string_view("qXfer:features:read:target.xml:").size());
        const size_t comma = range.find(',');
        const auto off = gdb::parse_hex_number(range.substr(0, comma));
        const auto len = comma == std::string_view::npos
                             ? std::nullopt
                             : gdb::parse_hex_number(range.substr(comma + 1));
        if (!off || !len) {
            return "E01";
        }
        const std::string& xml = gdb::aarch64_target_xml();
        if (*off >= xml.size()) {
            return "l";
        }
        const std::string chunk = xml.substr(*off, *len);
        return (*off + chunk.size() >= xml.size() ? "l" : "m") + chunk;
    }
    if (p.starts_with("qXfer:")) {
        return "E00";
    }
    if (p == "qfThreadInfo") {
        std::string ids;
        for (int id = 0; id < machine.task_count(); ++id) {
            if (!machine.task(id).finished()) {
                ids += fmt::format("{}{:x}", ids.empty() ? "m" : ",", id + 1);
            }
        }
        return ids.empty() ? "l" : ids;
    }
    if (p == "qsThreadInfo") {
        return "l";
    }
    if (p == "qC") {
        const int task = m_debugger.focus_task();
        return task >= 0 ? fmt::format("QC{:x}", task + 1) : "";
    }
    if (p == "qAttached") {
        return "1";
    }
    if (p.starts_with("qThreadExtraInfo,")) {
        const int task = thread_task(p.substr(17));
        if (task < 0) {
            return "E01";
        }
        const emu::Task& t = machine.task(task);
        const bool on_cpu = !t.finished() && machine.current_task(t.cpu) == task;
        return gdb::to_hex(fmt::format("{} cpu{}{}", t.name, t.cpu, on_cpu ? " running" : ""));
    }
    if (p.starts_with("qRcmd,")) {
        return monitor(p.substr(6));
    }
    if (p.starts_with("qSymbol")) {
        return "OK";
    }
    return "";
}

// One register of the focused task in g/p form: x0-x30, sp, pc, cpsr from its CPU or saved
// context; v0-v31, fpsr, fpcr from its CPU while it runs. Unavailable values are all 'x'.
std::string GdbStub::register_hex(int r, const emu::CpuState& s, bool live,
                                  const std::optional<emu::FpState>& fp) const {
    const std::string unavailable(size_t(gdb::reg_hex_size(r)), 'x');
    if (r < 31) {
        return live || r >= 19 ? gdb::le_hex(s.x[size_t(r)], 8) : unavailable;
    }
    if (r == gdb::kRegSp) {
        return gdb::le_hex(s.sp, 8);
    }
    if (r == gdb::kRegPc) {
        return gdb::le_hex(s.pc, 8);
    }
    if (r == gdb::kRegCpsr) {
        return live ? gdb::le_hex(s.pstate, 4) : unavailable;
    }
    if (!fp) {
        return unavailable;
    }
    if (r == gdb::kRegFpsr) {
        return gdb::le_hex(fp->fpsr, 4);
    }
    if (r == gdb::kRegFpcr) {
        return gdb::le_hex(fp->fpcr, 4);
    }
    const emu::VReg& v = fp->v[size_t(r - gdb::kRegV0)];
    return gdb::le_hex(v.lo, 8) + gdb::le_hex(v.hi, 8);
}

std::optional<emu::FpState> GdbStub::focus_fp_state() const {
    const int cpu = m_debugger.focus_cpu();
    if (cpu < 0) {
        return std::nullopt; // FP/SIMD state is per CPU; a sleeping task's is not modelled.
    }
    return m_debugger.session().access().machine->fp_state(cpu);
}

std::string GdbStub::read_registers() {
    bool live = false;
    const emu::CpuState s = m_debugger.task_registers(m_debugger.focus_task(), &live);
    const auto fp = focus_fp_state();
    std::string out;
    for (int r = 0; r < gdb::kRegCount; ++r) {
        out += register_hex(r, s, live, fp);
    }
    return out;
}

std::string GdbStub::read_register(std::string_view args) {
    const auto n = gdb::parse_hex_number(args);
    if (!n || *n >= uint64_t(gdb::kRegCount)) {
        return "E01";
    }
    bool live = false;
    const emu::CpuState s = m_debugger.task_registers(m_debugger.focus_task(), &live);
    return register_hex(int(*n), s, live, focus_fp_state());
}

// A G packet holds every register of the target description in order; a shorter one that
// stops after cpsr (a client without the FP/SIMD feature) is accepted too.
std::string GdbStub::write_registers(std::string_view hex) {
    size_t core = 0;
    size_t full = 0;
    for (int r = 0; r < gdb::kRegCount; ++r) {
        full += size_t(gdb::reg_hex_size(r));
        if (r <= gdb::kRegCpsr) {
            core = full;
        }
    }
    if (hex.size() != core && hex.size() != full) {
        return "E01";
    }
    size_t off = 0;
    for (int r = 0; r < gdb::kRegCount && off < hex.size(); ++r) {
        const size_t size = size_t(gdb::reg_hex_size(r));
        const std::string_view value = hex.substr(off, size);
        off += size;
        if (value.find('x') != std::string_view::npos) {
            continue; // Unavailable in the g reply: left as it is.
        }
        auto reply = write_register(fmt::format("{:x}={}", r, value));
        if (reply != "OK") {
            return reply;
        }
    }
    return "OK";
}

// Writes a register of the focused task while it runs on its CPU. PC is refused: the stop is
// inside the code hook of the instruction at PC, which will execute whatever PC says.
std::string GdbStub::write_register(std::string_view args) {
    const size_t eq = args.find('=');
    if (eq == std::string_view::npos) {
        return "E01";
    }
    const auto n = gdb::parse_hex_number(args.substr(0, eq));
    if (!n || *n >= uint64_t(gdb::kRegCount)) {
        return "E01";
    }
    const int r = int(*n);
    const std::string_view hex = args.substr(eq + 1);
    if (hex.size() != size_t(gdb::reg_hex_size(r))) {
        return "E01";
    }
    const int cpu = m_debugger.focus_cpu();
    emu::Machine* machine = m_debugger.session().access().machine;
    if (cpu < 0 || m_debugger.session().stop().at != StopAt::Instruction) {
        return "E02"; // Only a running task's registers at an instruction stop can change.
    }
    if (r >= gdb::kRegV0) {
        emu::FpState fp = machine->fp_state(cpu);
        if (r == gdb::kRegFpsr || r == gdb::kRegFpcr) {
            const auto v = gdb::parse_le_hex(hex);
            if (!v) {
                return "E01";
            }
            (r == gdb::kRegFpsr ? fp.fpsr : fp.fpcr) = uint32_t(*v);
        } else {
            const auto v = gdb::parse_le_hex128(hex);
            if (!v) {
                return "E01";
            }
            fp.v[size_t(r - gdb::kRegV0)] = emu::VReg{v->lo, v->hi};
        }
        machine->set_fp_state(cpu, fp);
        m_debugger.session().note_debugger_write();
        return "OK";
    }
    const auto v = gdb::parse_le_hex(hex);
    if (!v) {
        return "E01";
    }
    emu::CpuState s = machine->cpu_state(cpu);
    s.pc = m_debugger.session().stop().cpu == cpu ? m_debugger.session().stop().pc.value : s.pc;
    if (r < 31) {
        s.x[size_t(r)] = *v;
    } else if (r == gdb::kRegSp) {
        s.sp = *v;
    } else if (r == gdb::kRegPc) {
        return *v == s.pc ? "OK" : "E03";
    } else {
        s.pstate = (s.pstate & ~0xf0000000ULL) | (*v & 0xf0000000ULL); // NZCV only.
    }
    machine->set_cpu_state(cpu, s);
    m_debugger.session().note_debugger_write();
    return "OK";
}

std::string GdbStub::read_memory(std::string_view args) {
    const size_t comma = args.find(',');
    const auto addr = gdb::parse_hex_number(args.substr(0, comma));
    const auto len = comma == std::string_view::npos
                         ? std::nullopt
                         : gdb::parse_hex_number(args.substr(comma + 1));
    if (!addr || !len || *len > 0x10000) {
        return "E01";
    }
    const emu::Machine& machine = *m_debugger.session().access().machine;
    std::vector<uint8_t> bytes;
    for (uint64_t i = 0; i < *len; ++i) {
        const uint8_t* p = machine.memory().host_ptr(GuestAddr(*addr + i), 1);
        if (p == nullptr) {
            break;
        }
        bytes.push_back(*p);
    }
    return bytes.empty() && *len != 0 ? "E14" : gdb::to_hex(bytes);
}

std::string GdbStub::write_memory(std::string_view args) {
    const size_t comma = args.find(',');
    const size_t colon = args.find(':');
    if (comma == std::string_view::npos || colon == std::string_view::npos || colon < comma) {
        return "E01";
    }
    const auto addr = gdb::parse_hex_number(args.substr(0, comma));
    const auto len = gdb::parse_hex_number(args.substr(comma + 1, colon - comma - 1));
    const auto bytes = gdb::from_hex(args.substr(colon + 1));
    if (!addr || !len || !bytes || bytes->size() != *len) {
        return "E01";
    }
    if (bytes->empty()) {
        return "OK";
    }
    // Through the machine's text write, so every CPU drops stale translations of the bytes.
    auto r = m_debugger.session().access().machine->write_text_bytes(GuestAddr(*addr), *bytes);
    m_debugger.session().note_debugger_write();
    return r ? "OK" : "E14";
}

std::string GdbStub::breakpoint(bool insert, std::string_view args) {
    const auto parts = [&] {
        std::vector<std::string_view> out;
        size_t pos = 0;
        while (pos <= args.size()) {
            const size_t c = args.find_first_of(",;", pos);
            out.push_back(args.substr(pos, c == std::string_view::npos ? args.npos : c - pos));
            if (c == std::string_view::npos || args[c] == ';') {
                break;
            }
            pos = c + 1;
        }
        return out;
    }();
    if (parts.size() < 3) {
        return "E01";
    }
    const auto type = gdb::parse_hex_number(parts[0]);
    const auto addr = gdb::parse_hex_number(parts[1]);
    const auto kind = gdb::parse_hex_number(parts[2]);
    if (!type || !addr || !kind) {
        return "E01";
    }
    auto& c = m_debugger.session().conditions();
    if (*type == 0 || *type == 1) {
        std::erase_if(c.breakpoints, [&](const scenario::Breakpoint& b) {
            return b.id >= kBreakIdBase && b.pc.value == *addr;
        });
        if (insert) {
            c.breakpoints.push_back(scenario::Breakpoint{kBreakIdBase + int(c.breakpoints.size()),
                                                         GuestAddr(*addr), -1});
        }
        return "OK";
    }
    if (*type >= 2 && *type <= 4) {
        std::erase_if(c.watchpoints, [&](const scenario::Watchpoint& w) {
            return w.id >= kBreakIdBase && w.addr.value == *addr;
        });
        if (insert) {
            if (*kind == 0 || *kind > 64 ||
                !m_debugger.session().access().machine->memory().is_mapped(GuestAddr(*addr),
                                                                           *kind)) {
                return "E01";
            }
            c.watchpoints.push_back(scenario::Watchpoint{
                kBreakIdBase + int(c.watchpoints.size()), GuestAddr(*addr), uint32_t(*kind),
                *type == 2   ? scenario::WatchKind::Write
                : *type == 3 ? scenario::WatchKind::Read
                             : scenario::WatchKind::Access});
        }
        return "OK";
    }
    return "";
}

std::string GdbStub::resume(std::string_view action, int thread) {
    const int task = thread >= 0 ? thread : m_debugger.focus_task();
    Result<void> r;
    m_moving = action;
    if (action == "s") {
        r = m_debugger.step_instructions(task, 1);
    } else if (action == "c") {
        r = m_debugger.continue_forward();
    } else if (action == "bs") {
        r = m_debugger.reverse_step_instructions(task, 1);
    } else {
        r = m_debugger.reverse_continue();
    }
    m_moving.clear();
    return resume_reply(action, r);
}

std::string GdbStub::resume_reply(std::string_view action, const Result<void>& r) {
    if (!r && (action == "bs" || action == "bc")) {
        m_stop_extra = "replaylog:begin;";
    }
    const auto& s = m_debugger.session().stop();
    if (s.at == StopAt::Instruction) {
        m_debugger.set_focus_task(s.task);
    }
    if (!r) {
        send(fmt::format("O{}", gdb::to_hex(fmt::format("klpemu: {}\n", r.error().message))));
    } else if (s.at == StopAt::End) {
        send(fmt::format("O{}", gdb::to_hex(fmt::format("klpemu: {}\n", s.reason))));
    }
    int signal = 5;
    if (s.at == StopAt::Instruction && s.reason == "interrupted") {
        signal = 2;
    } else if (s.at == StopAt::Instruction && s.reason.starts_with("breakpoint")) {
        m_stop_extra += "swbreak:;";
    } else if (s.at == StopAt::Instruction && s.reason.starts_with("watchpoint ")) {
        const int id = std::atoi(s.reason.c_str() + 11);
        for (const auto& w : m_debugger.session().conditions().watchpoints) {
            if (w.id == id) {
                const bool read = s.reason.ends_with(" read");
                m_stop_extra += fmt::format("{}:{:x};",
                                            !read                                   ? "watch"
                                            : w.kind == scenario::WatchKind::Access ? "awatch"
                                                                                    : "rwatch",
                                            w.addr.value);
            }
        }
    }
    return stop_reply(signal);
}

std::string GdbStub::v_cont(std::string_view args) {
    // The first action decides: s[:tid] steps that thread, c continues (others run meanwhile).
    const size_t semi = args.find(';');
    const std::string_view first = args.substr(0, semi);
    const size_t colon = first.find(':');
    const std::string_view verb = first.substr(0, colon);
    int task = m_step_task;
    if (colon != std::string_view::npos) {
        task = thread_task(first.substr(colon + 1));
        if (task == -2) {
            return "E01";
        }
    }
    if (verb == "s" || verb.starts_with("S")) {
        return resume("s", task);
    }
    if (verb == "c" || verb.starts_with("C")) {
        return resume("c", task);
    }
    return "";
}

std::string GdbStub::monitor(std::string_view hex) {
    const auto bytes = gdb::from_hex(hex);
    if (!bytes) {
        return "E01";
    }
    const std::string command(bytes->begin(), bytes->end());
    m_moving = "monitor";
    const std::string out = m_debugger.execute(command);
    m_moving.clear();
    for (size_t i = 0; i < out.size(); i += 512) {
        send(fmt::format("O{}", gdb::to_hex(std::string_view(out).substr(i, 512))));
    }
    return "OK";
}

void GdbStub::save(scenario::WireWriter& out, std::vector<int>& fds) const {
    m_debugger.save_state(out);
    out.u64(m_ack ? 1 : 0);
    out.i64(m_step_task);
    out.str(m_stop_extra);
    out.str(m_moving);
    out.str(m_reader.unread());
    fds.push_back(m_fd);
    fds.push_back(m_link);
}

void GdbStub::adopt(scenario::WireReader& in, const std::vector<int>& fds) {
    m_debugger.adopt_state(in);
    m_ack = in.u64() != 0;
    m_step_task = int(in.i64());
    m_stop_extra = in.str();
    m_moving = in.str();
    m_reader = gdb::PacketReader{};
    m_reader.feed(in.str());
    m_fd = fds.at(0);
    m_link = fds.at(1);
    m_debugger.session().set_poll([this] { poll_interrupt(); });
}

void GdbStub::finish(const Result<void>& r) {
    const std::string moving = std::exchange(m_moving, {});
    if (moving == "monitor") {
        const std::string out = m_debugger.answer_move(r);
        for (size_t i = 0; i < out.size(); i += 512) {
            send(fmt::format("O{}", gdb::to_hex(std::string_view(out).substr(i, 512))));
        }
        send("OK");
    } else {
        send(resume_reply(moving, r));
    }
    serve();
    end_session();
}

void GdbStub::end_session() {
    KLP_CHECK(m_link >= 0, "gdb stub: ending a session that has no front-end process");
    std::printf("klpemu: gdb disconnected\n");
    std::fflush(nullptr);
    send_reply(m_link, SessionReply{::getpid(), 0, true, {}});
    ::_exit(0);
}

} // namespace klpemu::tools
