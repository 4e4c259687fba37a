// See step_session.h: moving a stepping session forward (one player), and backward (a fresh
// player replaying the deterministic scenario to the wanted clock).
#include "scenarios/step_session.h"

#include "emu/check.h"
#include "emu/machine.h"
#include "scenarios/scenario_parser.h"
#include "scenarios/step_player.h"

#include <fmt/format.h>

#include <cstdio>
#include <unistd.h>

namespace klpemu::scenario {

uint64_t machine_digest(const emu::Machine& machine) {
    uint64_t h = 1469598103934665603ULL;
    auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ULL; };
    mix(machine.instructions());
    for (int cpu = 0; cpu < machine.cpu_count(); ++cpu) {
        const emu::CpuState s = machine.cpu_state(cpu);
        for (uint64_t x : s.x) {
            mix(x);
        }
        mix(s.sp);
        mix(s.pc);
        mix(s.pstate);
        const emu::FpState fp = machine.fp_state(cpu);
        for (const emu::VReg& v : fp.v) {
            mix(v.lo);
            mix(v.hi);
        }
        mix(uint64_t(fp.fpsr) << 32 | fp.fpcr);
        mix(machine.cpu_cycles(cpu));
    }
    for (int id = 0; id < machine.task_count(); ++id) {
        const emu::Task& t = machine.task(id);
        mix(uint64_t(t.state));
        mix(uint64_t(int64_t(t.patch_state) + 2));
        mix(t.tif_patch_pending);
        mix(t.sleep_state);
        mix(t.tif_notify_signal);
        mix(t.timer_at);
        mix(t.instructions);
    }
    mix(machine.text_writes());
    return h;
}

StepSession::StepSession(Scenario scenario) : m_scenario(std::move(scenario)) {}

StepSession::~StepSession() = default;

Result<std::unique_ptr<StepSession>> StepSession::open(const std::filesystem::path& file) {
    auto scenario = parse_scenario_file(file);
    if (!scenario) {
        return scenario.error();
    }
    std::unique_ptr<StepSession> session(new StepSession(std::move(*scenario)));
    ResumeRules rules;
    rules.step_boundaries = true;
    KLP_TRY(session->start_player(rules));
    if (!session->m_player->error().empty()) {
        return make_error("{}", session->m_player->error());
    }
    return session;
}

const StopState& StepSession::stop() const {
    return m_player->stop();
}

DebugAccess StepSession::access() const {
    return m_player->access();
}

Result<void> StepSession::start_player(const ResumeRules& rules) {
    m_player.reset(); // Abandons and joins the previous run first.
    m_events.clear(); // The replay takes them again.
    m_player = std::make_unique<StepPlayer>(*this, m_scenario);
    m_player->start(rules);
    return wait_stopped();
}

Result<void> StepSession::wait_stopped() {
    if (m_player->ended()) {
        return make_error("step: the scenario stopped running: {}",
                          m_player->error().empty() ? "no reason given" : m_player->error());
    }
    const StopState& s = stop();
    if (s.at == StopAt::Instruction && access().machine != nullptr) {
        const uint64_t digest = machine_digest(*access().machine);
        auto [it, fresh] = m_digests.try_emplace(s.clock, digest);
        if (!fresh && it->second != digest) {
            return make_error("step: replay diverged at instruction {}: the machine state differs "
                              "from the first time this point was reached",
                              s.clock);
        }
    }
    return {};
}

Result<void> StepSession::resume(const ResumeRules& rules) {
    if (m_player->ended()) {
        return make_error("step: the session has ended");
    }
    m_player->resume(rules);
    return wait_stopped();
}

Result<void> StepSession::go_to_clock(uint64_t clock, std::string reason) {
    const StopState& s = stop();
    if (s.at == StopAt::Instruction && s.clock == clock) {
        return {};
    }
    ResumeRules rules;
    rules.at_clock = clock;
    rules.at_reason = std::move(reason);
    rules.conditions = false;
    if (clock > s.clock || (clock == s.clock && s.at == StopAt::StepBoundary)) {
        return resume(rules);
    }
    while (m_front != nullptr) {
        const auto c = m_checkpoints.at_or_before(clock);
        if (!c) {
            break;
        }
        hand_off(*c, BackMove{BackMove::Kind::GoTo, clock, rules.at_reason, c->clock});
        // Still here: that checkpoint could not take the move and is gone; try an earlier one.
    }
    ++m_replays;
    m_replayed += clock;
    m_last_replayed = clock;
    m_last_from.reset();
    return start_player(rules);
}

std::optional<uint64_t> StepSession::instruction_back(uint64_t before, uint64_t n) const {
    KLP_CHECK(n > 0, "instruction_back: n = 0");
    for (size_t i = m_history.size(); i-- > 0;) {
        const HistorySlice& slice = m_history[i];
        if (slice.start >= before || slice.task < 0) {
            continue;
        }
        const uint64_t end = i + 1 < m_history.size() ? m_history[i + 1].start : m_history_end;
        const uint64_t hi = std::min(end, before);
        if (n <= hi - slice.start) {
            return hi - n;
        }
        n -= hi - slice.start;
    }
    return std::nullopt;
}

std::optional<uint64_t> StepSession::previous_instruction(int task, uint64_t before) const {
    for (size_t i = m_history.size(); i-- > 0;) {
        const HistorySlice& slice = m_history[i];
        if (slice.start >= before || slice.task != task) {
            continue;
        }
        const uint64_t end = i + 1 < m_history.size() ? m_history[i + 1].start : m_history_end;
        return std::min(end, before) - 1;
    }
    return std::nullopt;
}

Result<std::optional<StepSession::Hit>> StepSession::last_condition_hit(uint64_t before) {
    ResumeRules rules;
    rules.at_clock = before;
    rules.scan = true;
    m_last_hit.reset();
    ++m_replays;
    m_replayed += before;
    m_last_replayed = before;
    m_last_from.reset();
    KLP_TRY(start_player(rules));
    return m_last_hit;
}

Result<void> StepSession::reverse_continue() {
    return scan_back(stop().clock);
}

Result<void> StepSession::scan_back(uint64_t before) {
    while (m_front != nullptr) {
        const auto c = m_checkpoints.before(before);
        if (!c) {
            break;
        }
        hand_off(*c, BackMove{BackMove::Kind::Scan, before, {}, c->clock});
    }
    auto hit = last_condition_hit(before);
    KLP_TRY(hit);
    if (!*hit) {
        KLP_TRY(go_to_clock(0));
        return make_error("no breakpoint or event before this point: at the first instruction");
    }
    return go_to_clock((*hit)->clock, (*hit)->reason);
}

void StepSession::enable_checkpoints(const CheckpointOptions& options, SessionFrontEnd& front) {
    m_checkpoints = CheckpointStore(options);
    m_front = &front;
}

void StepSession::note_debugger_write() {
    m_checkpoints.drop_after(stop().clock);
}

// The handoff's session part, in order: the move, the stop conditions, the history and
// digests, the counters, the front end's part (bytes, then how many of the descriptors are
// its), the checkpoint list (whose control sockets are the remaining descriptors).
bool StepSession::hand_off(const Checkpoint& c, const BackMove& move) {
    WireWriter p;
    p.u64(uint64_t(move.kind));
    p.u64(move.target);
    p.str(move.reason);
    p.u64(move.from);
    p.u64(m_conditions.breakpoints.size());
    for (const Breakpoint& b : m_conditions.breakpoints) {
        p.i64(b.id);
        p.u64(b.pc.value);
        p.i64(b.task);
    }
    p.u64(m_conditions.watchpoints.size());
    for (const Watchpoint& w : m_conditions.watchpoints) {
        p.i64(w.id);
        p.u64(w.addr.value);
        p.u64(w.len);
        p.u64(uint64_t(w.kind));
    }
    const EventBreaks& e = m_conditions.events;
    p.u64(uint64_t(e.patch) | uint64_t(e.task_switch) << 1 | uint64_t(e.transition) << 2 |
          uint64_t(e.finding) << 3 | uint64_t(e.irq) << 4);
    p.u64(m_history.size());
    for (const HistorySlice& h : m_history) {
        p.u64(h.start);
        p.i64(h.cpu);
        p.i64(h.task);
    }
    p.u64(m_history_end);
    p.u64(m_digests.size());
    for (const auto& [clock, digest] : m_digests) {
        p.u64(clock);
        p.u64(digest);
    }
    p.u64(m_replays);
    p.u64(m_replayed);
    std::vector<int> fds;
    WireWriter front;
    m_front->save(front, fds);
    p.str(front.bytes());
    p.u64(fds.size());
    m_checkpoints.save(p, fds);
    WireWriter order;
    order.u64(uint64_t(CheckpointOrder::Handoff));
    order.str(p.bytes());
    std::fflush(nullptr);
    if (!send_frame(c.fd, order.bytes(), fds)) {
        m_checkpoints.drop(c.pid);
        return false;
    }
    auto ack = recv_frame(c.fd);
    if (!ack || WireReader(std::move(*ack)).i64() <= 0) {
        m_checkpoints.drop(c.pid);
        return false;
    }
    // The worker is the session now; this process must not touch anything it handed over.
    ::_exit(0);
}

StepSession::BackMove StepSession::adopt(WireReader& in, std::vector<int> fds, std::string& front,
                                         std::vector<int>& front_fds) {
    BackMove m;
    m.kind = BackMove::Kind(in.u64());
    m.target = in.u64();
    m.reason = in.str();
    m.from = in.u64();
    m_conditions = StopConditions{};
    for (uint64_t n = in.u64(); n > 0 && !in.failed(); --n) {
        Breakpoint b;
        b.id = int(in.i64());
        b.pc = GuestAddr(in.u64());
        b.task = int(in.i64());
        m_conditions.breakpoints.push_back(b);
    }
    for (uint64_t n = in.u64(); n > 0 && !in.failed(); --n) {
        Watchpoint w;
        w.id = int(in.i64());
        w.addr = GuestAddr(in.u64());
        w.len = uint32_t(in.u64());
        w.kind = WatchKind(in.u64());
        m_conditions.watchpoints.push_back(w);
    }
    const uint64_t e = in.u64();
    m_conditions.events =
        EventBreaks{(e & 1) != 0, (e & 2) != 0, (e & 4) != 0, (e & 8) != 0, (e & 16) != 0};
    m_history.clear();
    for (uint64_t n = in.u64(); n > 0 && !in.failed(); --n) {
        HistorySlice h;
        h.start = in.u64();
        h.cpu = int(in.i64());
        h.task = int(in.i64());
        m_history.push_back(h);
    }
    m_history_end = in.u64();
    m_digests.clear();
    for (uint64_t n = in.u64(); n > 0 && !in.failed(); --n) {
        const uint64_t clock = in.u64();
        m_digests[clock] = in.u64();
    }
    m_last_replayed = m.target - m.from;
    m_last_from = m.from;
    m_replays = in.u64() + 1;
    m_replayed = in.u64() + m_last_replayed;
    front = in.str();
    const size_t nfront = std::min<size_t>(in.u64(), fds.size());
    front_fds.assign(fds.begin(), fds.begin() + long(nfront));
    m_checkpoints.adopt(in, std::vector<int>(fds.begin() + long(nfront), fds.end()));
    m_last_hit.reset();
    m_interrupt.store(false);
    KLP_CHECK(!in.failed(), "step: a checkpoint handoff was cut short");
    return m;
}

Result<void> StepSession::finish_move(const BackMove& move) {
    m_player->wait_for_player();
    KLP_TRY(wait_stopped());
    if (move.kind == BackMove::Kind::GoTo) {
        return {};
    }
    if (m_last_hit) {
        const Hit hit = *m_last_hit;
        return go_to_clock(hit.clock, hit.reason);
    }
    return scan_back(move.from);
}

} // namespace klpemu::scenario
