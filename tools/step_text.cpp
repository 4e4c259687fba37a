// See step_text.h.
#include "tools/step_text.h"

#include <charconv>

namespace klpemu::tools {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
        s.remove_prefix(1);
    }
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
        s.remove_suffix(1);
    }
    return s;
}

std::vector<std::string_view> split_words(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
            ++i;
        }
        size_t j = i;
        while (j < s.size() && s[j] != ' ' && s[j] != '\t') {
            ++j;
        }
        if (j > i) {
            out.push_back(s.substr(i, j - i));
        }
        i = j;
    }
    return out;
}

Result<uint64_t> parse_number(std::string_view s) {
    s = trim(s);
    int base = 10;
    std::string_view digits = s;
    if (s.starts_with("0x") || s.starts_with("0X")) {
        base = 16;
        digits = s.substr(2);
    }
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
        return make_error("'{}' is not a number", s);
    }
    return v;
}

bool set_event_break(scenario::EventBreaks& events, std::string_view name) {
    if (name == "patch") {
        events.patch = true;
    } else if (name == "switch") {
        events.task_switch = true;
    } else if (name == "transition") {
        events.transition = true;
    } else if (name == "finding") {
        events.finding = true;
    } else if (name == "irq") {
        events.irq = true;
    } else {
        return false;
    }
    return true;
}

std::vector<std::string> script_commands(std::string_view text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t end = text.find_first_of(";\n", pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        const std::string_view cmd = trim(text.substr(pos, end - pos));
        pos = end + 1;
        if (!cmd.empty() && cmd.front() != '#') {
            out.emplace_back(cmd);
        }
    }
    return out;
}

} // namespace klpemu::tools
