// Expectation judging (see expectations.h).
#include "scenarios/expectations.h"

#include "scenarios/guest_value.h"

#include <fmt/format.h>

#include <algorithm>

namespace klpemu::scenario {

bool location_matches(std::string_view location, std::string_view where) {
    if (where.empty() || location == where) {
        return true;
    }
    return location.starts_with(where) && location.size() > where.size() &&
           location[where.size()] == '+';
}

namespace {

std::string values_str(const std::vector<uint64_t>& values) {
    std::string out;
    for (auto v : values) {
        out += out.empty() ? "" : ", ";
        out += format_guest_value(v);
    }
    return out;
}

std::string judge_returns(const Expectation& e, const RunRecord& run,
                          const SymbolResolver& resolve) {
    std::optional<std::vector<uint64_t>> wanted_args;
    if (e.args) {
        wanted_args.emplace();
        for (const auto& a : *e.args) {
            if (const auto* n = std::get_if<uint64_t>(&a)) {
                wanted_args->push_back(*n);
                continue;
            }
            const auto& name = std::get<std::string>(a);
            auto addr = resolve ? resolve(name) : std::nullopt;
            if (!addr) {
                return fmt::format("argument '{}' is not a known symbol", name);
            }
            wanted_args->push_back(*addr);
        }
    }
    size_t matched = 0;
    for (const auto& call : run.calls) {
        if (call.function != e.function || (wanted_args && call.args != *wanted_args)) {
            continue;
        }
        ++matched;
        if (!call.returned) {
            return fmt::format("{}({}) did not return", call.function, values_str(call.args));
        }
        if (call.result != e.value) {
            return fmt::format("{}({}) returned {}", call.function, values_str(call.args),
                               format_guest_value(call.result));
        }
    }
    if (matched == 0) {
        return wanted_args ? fmt::format("no call of {}({}) was made", e.function,
                                         values_str(*wanted_args))
                           : fmt::format("no call of {} was made", e.function);
    }
    return {};
}

std::string judge_log(const Expectation& e, const RunRecord& run) {
    const auto hit = std::find_if(run.log.begin(), run.log.end(), [&](const std::string& line) {
        return line.find(e.text) != std::string::npos;
    });
    if (e.kind == ExpectKind::LogPresent) {
        return hit == run.log.end() ? fmt::format("no log line contains \"{}\" ({} lines)",
                                                  e.text, run.log.size())
                                    : std::string{};
    }
    return hit == run.log.end() ? std::string{} : fmt::format("log line \"{}\"", *hit);
}

std::string judge_finding(const Expectation& e, const RunRecord& run) {
    const auto hit = std::find_if(run.findings.begin(), run.findings.end(), [&](const Finding& f) {
        return f.kind == e.text && location_matches(f.where, e.where) &&
               f.message.find(e.message) != std::string::npos;
    });
    if (e.kind == ExpectKind::FindingPresent) {
        if (hit != run.findings.end()) {
            return {};
        }
        std::string seen;
        for (const auto& f : run.findings) {
            seen += seen.empty() ? "" : ", ";
            seen += f.where.empty() ? f.kind : fmt::format("{} at {}", f.kind, f.where);
        }
        return seen.empty() ? "no findings" : fmt::format("findings were: {}", seen);
    }
    if (hit == run.findings.end()) {
        return {};
    }
    return hit->where.empty() ? fmt::format("found {}: {}", hit->kind, hit->message)
                              : fmt::format("found {} at {}: {}", hit->kind, hit->where,
                                            hit->message);
}

std::string judge_window(std::string_view what, uint64_t value, const Expectation& e) {
    if (value >= e.low && value <= e.high) {
        return {};
    }
    return fmt::format("{} = {}", what, value);
}

} // namespace

ExpectationOutcome evaluate(const Expectation& e, const RunRecord& run,
                            const SymbolResolver& resolve) {
    std::string why;
    switch (e.kind) {
    case ExpectKind::Returns: why = judge_returns(e, run, resolve); break;
    case ExpectKind::LogPresent:
    case ExpectKind::LogAbsent: why = judge_log(e, run); break;
    case ExpectKind::FindingPresent:
    case ExpectKind::FindingAbsent: why = judge_finding(e, run); break;
    case ExpectKind::NoFindings:
        if (!run.findings.empty()) {
            const auto& f = run.findings.front();
            why = fmt::format("{} finding(s), first: {}{}: {}", run.findings.size(), f.kind,
                              f.where.empty() ? "" : " at " + f.where, f.message);
        }
        break;
    case ExpectKind::InstructionWindow: why = judge_window("instructions", run.instructions, e); break;
    case ExpectKind::CycleWindow: why = judge_window("cycles", run.cycles, e); break;
    }
    return ExpectationOutcome{e.describe(), why.empty(), why, e.loc};
}

std::vector<ExpectationOutcome> evaluate_all(const std::vector<Expectation>& expectations,
                                             const RunRecord& run, const SymbolResolver& resolve) {
    std::vector<ExpectationOutcome> out;
    out.reserve(expectations.size());
    for (const auto& e : expectations) {
        out.push_back(evaluate(e, run, resolve));
    }
    return out;
}

} // namespace klpemu::scenario
