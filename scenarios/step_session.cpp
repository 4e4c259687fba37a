// See step_session.h: moving a stepping session forward (one player), and backward (a fresh
// player replaying the deterministic scenario to the wanted clock).
#include "scenarios/step_session.h"

#include "emu/machine.h"
#include "scenarios/scenario_parser.h"
#include "scenarios/step_player.h"

#include <fmt/format.h>

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
    ++m_replays;
    m_replayed += clock;
    return start_player(rules);
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
    KLP_TRY(start_player(rules));
    return m_last_hit;
}

} // namespace klpemu::scenario
