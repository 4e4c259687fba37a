// See shell_pids.h.
#include "scenarios/shell_pids.h"

#include <string_view>

namespace klpemu::scenario {

std::string user_task_pids(const emu::Machine& machine) {
    std::string out;
    for (int id = 0; id < machine.task_count(); ++id) {
        const emu::Task& t = machine.task(id);
        if (t.kind == emu::TaskKind::User && !t.finished()) {
            out += out.empty() ? "" : ",";
            out += std::to_string(t.id);
        }
    }
    return out;
}

std::string expand_user_pids(std::string text, const emu::Machine& machine) {
    constexpr std::string_view var = "$USER_PIDS";
    for (size_t at = text.find(var); at != std::string::npos; at = text.find(var, at)) {
        const std::string pids = user_task_pids(machine);
        text.replace(at, var.size(), pids);
        at += pids.size();
    }
    return text;
}

std::string hide_klp_pids(std::string line) {
    constexpr std::string_view param = "klp_pids=";
    constexpr std::string_view shown = "<PID1,PID2,...>";
    for (size_t at = line.find(param); at != std::string::npos; at = line.find(param, at)) {
        at += param.size();
        size_t end = at;
        while (end < line.size() && line[end] != ' ') {
            ++end;
        }
        line.replace(at, end - at, shown);
        at += shown.size();
    }
    return line;
}

} // namespace klpemu::scenario
