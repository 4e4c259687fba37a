// A scripted Backend for runner tests: no Unicorn, no assembler. Symbols are the `label:` lines
// of inline assembly; `call` runs a C++ lambda registered per function (default: sum of the
// arguments); the clock advances by what run_for asks, up to the scenario's budget, where it
// reports a budget-exhausted finding as the machine does.
#pragma once

#include "scenarios/backend.h"

#include <fmt/format.h>

#include <functional>
#include <algorithm>
#include <map>
#include <optional>
#include <sstream>

namespace klpemu::test {

class FakeBackend : public scenario::Backend {
  public:
    using Fn = std::function<uint64_t(std::span<const uint64_t>)>;

    explicit FakeBackend(uint64_t budget) : m_budget(budget) {}

    std::map<std::string, Fn> functions;
    std::optional<uint64_t> idle_at; // Every task has exited once the clock reaches this.

    Result<void> load_object(const scenario::ObjectSpec& object) override {
        std::istringstream in(object.text);
        std::string line;
        while (std::getline(in, line)) {
            const auto colon = line.find(':');
            if (colon != std::string::npos && colon > 0 && line.find_first_of(" \t") > colon) {
                m_symbols[line.substr(0, colon)] = 0xffff800008000000ULL + 0x100 * m_symbols.size();
            }
        }
        m_events.push_back(scenario::line_event(scenario::BackendEvent::Kind::Log,
                                                fmt::format("loaded {}", object.name), m_clock));
        return {};
    }
    Result<void> start_task(const scenario::TaskSpec& task, std::span<const uint64_t>) override {
        m_events.push_back(scenario::line_event(scenario::BackendEvent::Kind::Task,
                                                fmt::format("task {} started", task.name), m_clock));
        return {};
    }
    std::optional<uint64_t> symbol_address(std::string_view name) const override {
        auto it = m_symbols.find(std::string(name));
        if (it == m_symbols.end()) {
            return std::nullopt;
        }
        return it->second;
    }
    Result<scenario::RunStop> run_for(uint64_t n) override {
        if (m_clock + n > m_budget) {
            m_clock = m_budget;
            Finding f;
            f.kind = "budget-exhausted";
            f.where = "spin+0x4";
            f.message = fmt::format("instruction budget of {} exhausted", m_budget);
            f.instruction = m_clock;
            scenario::BackendEvent e;
            e.kind = scenario::BackendEvent::Kind::Finding;
            e.finding = f;
            e.instruction = m_clock;
            m_events.push_back(std::move(e));
            return scenario::RunStop::BudgetExhausted;
        }
        if (idle_at && m_clock + n >= *idle_at) {
            m_clock = std::max(m_clock, *idle_at);
            return scenario::RunStop::Idle;
        }
        m_clock += n;
        return scenario::RunStop::Done;
    }
    Result<scenario::RunStop> run_until(const scenario::ReachPoint& reach) override {
        if (reach.symbol == "never") {
            return scenario::RunStop::Idle;
        }
        return run_for(10);
    }
    Result<void> inject_irq(int cpu) override {
        m_events.push_back(
            scenario::line_event(scenario::BackendEvent::Kind::Irq, fmt::format("irq on cpu{}", cpu), m_clock));
        return {};
    }
    Result<scenario::CallOutcome> call(std::string_view function,
                                       std::span<const uint64_t> args) override {
        m_clock += 5;
        auto it = functions.find(std::string(function));
        if (it != functions.end()) {
            return scenario::CallOutcome{scenario::RunStop::Done, it->second(args)};
        }
        uint64_t sum = 0;
        for (auto a : args) {
            sum += a;
        }
        return scenario::CallOutcome{scenario::RunStop::Done, sum};
    }
    std::vector<scenario::BackendEvent> take_events() override { return std::exchange(m_events, {}); }
    uint64_t instructions() const override { return m_clock; }
    uint64_t cycles() const override { return m_clock * 2; }

  private:
    uint64_t m_budget;
    uint64_t m_clock = 0;
    std::map<std::string, uint64_t> m_symbols;
    std::vector<scenario::BackendEvent> m_events;
};

// A factory for Runner that hands out FakeBackends, optionally customised.
inline scenario::BackendFactory fake_factory(std::function<void(FakeBackend&)> setup = {}) {
    return [setup](const scenario::Scenario& s,
                   scenario::ChromeTraceProcess*) -> Result<std::unique_ptr<scenario::Backend>> {
        auto b = std::make_unique<FakeBackend>(s.machine.budget);
        if (setup) {
            setup(*b);
        }
        return std::unique_ptr<scenario::Backend>(std::move(b));
    };
}

} // namespace klpemu::test
