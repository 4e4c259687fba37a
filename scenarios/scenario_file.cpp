// Printing helpers of the scenario data model: locations, reach points, arguments and
// expectation descriptions, in the words the scenario file and the transcript use.
#include "scenarios/scenario_file.h"

#include "scenarios/guest_value.h"

#include <fmt/format.h>

namespace klpemu::scenario {

std::string SourceLoc::str() const {
    if (line <= 0) {
        return file;
    }
    return fmt::format("{}:{}:{}", file, line, column);
}

Error located_error(const SourceLoc& loc, std::string_view message) {
    return make_error("{}: error: {}", loc.str(), message);
}

std::string ReachPoint::str() const {
    if (task.empty()) {
        return symbol;
    }
    return fmt::format("{} reaches {}", task, symbol);
}

std::string arg_str(const GuestArg& arg) {
    if (const auto* n = std::get_if<uint64_t>(&arg)) {
        return format_guest_value(*n);
    }
    return std::get<std::string>(arg);
}

namespace {

std::string args_str(const std::vector<GuestArg>& args) {
    std::string out;
    for (const auto& a : args) {
        out += out.empty() ? "" : ", ";
        out += arg_str(a);
    }
    return out;
}

std::string finding_filter_str(const Expectation& e) {
    std::string out = e.where.empty() ? e.text : fmt::format("{} at {}", e.text, e.where);
    if (!e.message.empty()) {
        out += fmt::format(" with \"{}\"", e.message);
    }
    return out;
}

} // namespace

std::string Expectation::describe() const {
    switch (kind) {
    case ExpectKind::Returns:
        if (args) {
            return fmt::format("{}({}) returns {}", function, args_str(*args),
                               format_guest_value(value));
        }
        return fmt::format("{} returns {}", function, format_guest_value(value));
    case ExpectKind::LogPresent: return fmt::format("log contains \"{}\"", text);
    case ExpectKind::LogAbsent: return fmt::format("log does not contain \"{}\"", text);
    case ExpectKind::FindingPresent: return fmt::format("finding {}", finding_filter_str(*this));
    case ExpectKind::FindingAbsent: return fmt::format("no finding {}", finding_filter_str(*this));
    case ExpectKind::NoFindings: return "no findings";
    case ExpectKind::InstructionWindow:
        return fmt::format("instructions in [{}, {}]", low, high);
    case ExpectKind::CycleWindow: return fmt::format("cycles in [{}, {}]", low, high);
    }
    return "?";
}

} // namespace klpemu::scenario
