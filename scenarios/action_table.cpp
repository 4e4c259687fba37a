// Parsers for the timeline actions (see action_table.h).
#include "scenarios/action_table.h"

#include "scenarios/guest_value.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <span>
#include <vector>

namespace klpemu::scenario {

namespace {

std::vector<std::string_view> split_words(std::string_view text) {
    std::vector<std::string_view> words;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) {
            ++i;
        }
        size_t start = i;
        while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) {
            ++i;
        }
        if (i > start) {
            words.push_back(text.substr(start, i - start));
        }
    }
    return words;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return s;
}

bool is_symbol_name(std::string_view w) {
    if (w.empty() || std::isdigit(static_cast<unsigned char>(w[0]))) {
        return false;
    }
    for (char c : w) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '$') {
            return false;
        }
    }
    return true;
}

Result<Action> parse_run(std::string_view args) {
    auto words = split_words(args);
    if (words.size() != 1) {
        return make_error("expected 'run N' (N instructions)");
    }
    auto n = parse_guest_value(words[0]);
    if (!n || static_cast<int64_t>(*n) <= 0) {
        return make_error("expected a positive instruction count after 'run', got '{}'", words[0]);
    }
    return Action{RunAction{*n}};
}

Result<Action> parse_until(std::string_view args) {
    KLP_TRY_ASSIGN(reach, parse_reach_point(args));
    return Action{UntilAction{reach}};
}

Result<Action> parse_irq(std::string_view args) {
    auto words = split_words(args);
    if (words.size() != 1) {
        return make_error("expected 'irq CPU'");
    }
    auto n = parse_guest_value(words[0]);
    if (!n || *n > 1024) {
        return make_error("expected a CPU number after 'irq', got '{}'", words[0]);
    }
    return Action{IrqAction{static_cast<int>(*n)}};
}

Result<Action> parse_call(std::string_view args) {
    auto words = split_words(args);
    if (words.empty() || !is_symbol_name(words[0])) {
        return make_error("expected 'call FUNC [ARG...]' with a function name");
    }
    if (words.size() > 9) {
        return make_error("'call' passes at most 8 arguments (x0-x7), got {}", words.size() - 1);
    }
    CallAction call{std::string(words[0]), {}};
    for (size_t i = 1; i < words.size(); ++i) {
        KLP_TRY_ASSIGN(arg, parse_guest_arg(words[i]));
        call.args.push_back(arg);
    }
    return Action{std::move(call)};
}

Result<Action> parse_log(std::string_view args) {
    auto text = trim(args);
    if (text.empty()) {
        return make_error("expected 'log TEXT'");
    }
    return Action{LogAction{std::string(text)}};
}

Result<Action> parse_module(std::string_view args) {
    auto words = split_words(args);
    if (words.size() != 2 || (words[0] != "load" && words[0] != "unload") ||
        !is_symbol_name(words[1])) {
        return make_error("expected 'module load NAME' or 'module unload NAME'");
    }
    return Action{ModuleAction{words[0] == "load", std::string(words[1])}};
}

// `ftrace register_direct FILTER TRAMP`, `modify_direct FILTER TRAMP`, `unregister_direct FILTER`.
Result<Action> parse_ftrace_direct(std::span<const std::string_view> words) {
    FtraceAction action;
    const bool needs_tramp = words[0] != "unregister_direct";
    action.direct = words[0] == "register_direct" ? FtraceAction::Direct::Register
                    : words[0] == "modify_direct" ? FtraceAction::Direct::Modify
                                                  : FtraceAction::Direct::Unregister;
    if (words.size() != (needs_tramp ? 3u : 2u) || !is_symbol_name(words.back())) {
        if (needs_tramp) {
            return make_error("expected 'ftrace {} FILTER TRAMPOLINE' (a function name or glob, "
                              "then the direct trampoline's symbol)",
                              words[0]);
        }
        return make_error("expected 'ftrace {} FILTER'", words[0]);
    }
    action.filter = std::string(words[1]);
    if (needs_tramp) {
        action.trampoline = std::string(words[2]);
    }
    return Action{std::move(action)};
}

Result<Action> parse_ftrace(std::string_view args) {
    auto words = split_words(args);
    if (!words.empty() && (words[0] == "register_direct" || words[0] == "modify_direct" ||
                           words[0] == "unregister_direct")) {
        return parse_ftrace_direct(words);
    }
    if (words.empty() || (words[0] != "enable" && words[0] != "disable")) {
        return make_error(
            "expected 'ftrace enable FILTER "
            "[tracer=function|graph|stacktrace|save_regs]' or 'ftrace disable FILTER'");
    }
    FtraceAction action;
    action.enable = words[0] == "enable";
    for (size_t i = 1; i < words.size(); ++i) {
        const std::string_view w = words[i];
        if (w.starts_with("tracer=")) {
            if (!action.enable) {
                return make_error("'ftrace disable' takes no tracer");
            }
            action.tracer = std::string(w.substr(7));
            if (action.tracer != "function" && action.tracer != "graph" &&
                action.tracer != "stacktrace" && action.tracer != "save_regs") {
                return make_error("unknown tracer '{}' (expected function, graph, stacktrace or "
                                  "save_regs)",
                                  action.tracer);
            }
            continue;
        }
        action.filter += action.filter.empty() ? "" : " ";
        action.filter += w;
    }
    if (action.filter.empty()) {
        return make_error("'ftrace {}' needs a FILTER (function names or globs)", words[0]);
    }
    return Action{std::move(action)};
}

Result<Action> parse_insmod(std::string_view args) {
    auto words = split_words(args);
    if (words.empty() || !is_symbol_name(words[0])) {
        return make_error("expected 'insmod NAME [param=value ...]'");
    }
    ShellAction a;
    a.kind = ShellAction::Kind::Insmod;
    a.name = std::string(words[0]);
    a.shown = fmt::format("insmod test_modules/{}.ko", a.name);
    for (size_t i = 1; i < words.size(); ++i) {
        if (words[i].find('=') == std::string_view::npos) {
            return make_error("insmod: expected a 'param=value' module parameter, got '{}'",
                              words[i]);
        }
        a.params.emplace_back(words[i]);
        a.shown += fmt::format(" {}", words[i]);
    }
    return Action{std::move(a)};
}

Result<Action> parse_rmmod(std::string_view args) {
    auto words = split_words(args);
    if (words.size() != 1 || !is_symbol_name(words[0])) {
        return make_error("expected 'rmmod NAME'");
    }
    ShellAction a;
    a.kind = ShellAction::Kind::Rmmod;
    a.name = std::string(words[0]);
    a.shown = fmt::format("rmmod {}", a.name);
    return Action{std::move(a)};
}

Result<Action> parse_echo(std::string_view args) {
    constexpr std::string_view control = "/sys/kernel/debug/dynamic_debug/control";
    if (auto t = trim(args); t.starts_with("'") && t.ends_with(control)) {
        // echo 'func klp_try_switch_task +p' > /sys/kernel/debug/dynamic_debug/control
        const size_t close = t.find('\'', 1);
        const auto rest = split_words(t.substr(close + 1));
        const std::string_view query = t.substr(1, close - 1);
        if (close == std::string_view::npos || rest.size() != 2 || rest[0] != ">" ||
            (query != "func klp_try_switch_task +p" && query != "func klp_try_switch_task -p")) {
            return make_error("expected \"echo 'func klp_try_switch_task +p|-p' > {}\"", control);
        }
        ShellAction a;
        a.kind = ShellAction::Kind::Echo;
        a.value = std::string(query);
        a.name = std::string(control);
        a.shown = fmt::format("echo '{}' > {}", a.value, a.name);
        return Action{std::move(a)};
    }
    if (auto t = trim(args); t.starts_with('"') && t.ends_with("/dev/kmsg")) {
        // echo "TEXT" > /dev/kmsg: the selftests' log(); TEXT may hold $(cat FILE).
        const size_t close = t.find('"', 1);
        const auto rest = close == std::string_view::npos ? std::vector<std::string_view>{}
                                                          : split_words(t.substr(close + 1));
        if (rest.size() != 2 || rest[0] != ">") {
            return make_error("expected 'echo \"TEXT\" > /dev/kmsg'");
        }
        ShellAction a;
        a.kind = ShellAction::Kind::Echo;
        a.value = std::string(t.substr(1, close - 1));
        a.name = "/dev/kmsg"; // No `% ` line: the text itself is the kernel log line.
        return Action{std::move(a)};
    }
    auto words = split_words(args);
    if (words.size() != 3 || words[1] != ">" ||
        !(words[2].starts_with("/sys/kernel/livepatch/") || words[2].starts_with("/sys/module/"))) {
        return make_error("expected 'echo VALUE > /sys/kernel/livepatch/PATCH/{{enabled|force}}' "
                          "or 'echo VALUE > /sys/module/MODULE/parameters/PARAM'");
    }
    ShellAction a;
    a.kind = ShellAction::Kind::Echo;
    a.value = std::string(words[0]);
    a.name = std::string(words[2]);
    a.shown = fmt::format("echo {} > {}", a.value, a.name);
    return Action{std::move(a)};
}

Result<Action> parse_cat(std::string_view args) {
    auto words = split_words(args);
    const bool to_kmsg = words.size() == 3 && words[1] == ">" && words[2] == "/dev/kmsg" &&
                         words[0].starts_with("/proc/");
    if ((words.size() != 1 && !to_kmsg) || !words[0].starts_with("/")) {
        return make_error("expected 'cat /proc/cmdline [> /dev/kmsg]' or "
                          "'cat /sys/kernel/livepatch/...'");
    }
    ShellAction a;
    a.kind = ShellAction::Kind::Cat;
    a.name = std::string(words[0]);
    a.value = to_kmsg ? "/dev/kmsg" : "";
    return Action{std::move(a)};
}

// grep 'TEXT' /proc/NAME [> /dev/kmsg]: a cat that keeps the lines containing TEXT (the
// selftests' `grep 'live patched' /proc/cmdline > /dev/kmsg`).
Result<Action> parse_grep(std::string_view args) {
    const auto t = trim(args);
    const size_t close = t.starts_with("'") ? t.find('\'', 1) : std::string_view::npos;
    if (close == std::string_view::npos || close == 1) {
        return make_error("expected \"grep 'TEXT' /proc/NAME [> /dev/kmsg]\"");
    }
    auto cat = parse_cat(t.substr(close + 1));
    const auto* shell = cat ? std::get_if<ShellAction>(&*cat) : nullptr;
    if (!shell || !shell->name.starts_with("/proc/")) {
        return make_error("expected \"grep 'TEXT' /proc/NAME [> /dev/kmsg]\"");
    }
    ShellAction a = *shell;
    a.grep = std::string(t.substr(1, close - 1));
    return Action{std::move(a)};
}

Result<Action> parse_sysctl(std::string_view args) {
    auto words = split_words(args);
    const size_t eq = words.size() == 1 ? words[0].find('=') : std::string_view::npos;
    if (eq == std::string_view::npos || words[0].substr(0, eq) != "kernel.ftrace_enabled" ||
        (words[0].substr(eq + 1) != "0" && words[0].substr(eq + 1) != "1")) {
        return make_error("expected 'sysctl kernel.ftrace_enabled=0|1'");
    }
    ShellAction a;
    a.kind = ShellAction::Kind::Sysctl;
    a.name = std::string(words[0].substr(0, eq));
    a.value = std::string(words[0].substr(eq + 1));
    return Action{std::move(a)};
}

Result<Action> parse_wait(std::string_view args) {
    auto words = split_words(args);
    if (words.size() != 2 || words[0] != "transition" || !is_symbol_name(words[1])) {
        return make_error("expected 'wait transition PATCH'");
    }
    ShellAction a;
    a.kind = ShellAction::Kind::Wait;
    a.name = std::string(words[1]);
    return Action{std::move(a)};
}

constexpr std::array k_actions{
    ActionInfo{"run", "run N", "run the machine for N more instructions", parse_run},
    ActionInfo{"until", "until [TASK reaches] SYMBOL",
               "run until a task (or TASK) is about to execute SYMBOL", parse_until},
    ActionInfo{"irq", "irq CPU", "inject an interrupt on CPU now", parse_irq},
    ActionInfo{"call", "call FUNC [ARG...]",
               "run FUNC(ARG...) on a fresh kthread until it returns and log its result",
               parse_call},
    ActionInfo{"log", "log TEXT", "write TEXT to the log", parse_log},
    ActionInfo{"module", "module load|unload NAME",
               "load a deferred module object (placement, PLTs, init, free init) or unload it",
               parse_module},
    ActionInfo{"ftrace",
               "ftrace enable|disable FILTER [tracer=function|graph|stacktrace|save_regs] | "
               "register_direct|modify_direct FILTER TRAMP | unregister_direct FILTER",
               "turn ftrace call sites on (function or graph tracer) or off; point them at a "
               "direct trampoline (6.4+ call-ops)",
               parse_ftrace},
    ActionInfo{"insmod", "insmod NAME [param=value...]",
               "load the deferred module NAME and run its module_init", parse_insmod},
    ActionInfo{"rmmod", "rmmod NAME", "run NAME's module_exit and unload it", parse_rmmod},
    ActionInfo{"echo",
               "echo V > /sys/kernel/livepatch/PATCH/{enabled|force}|"
               "/sys/module/MODULE/parameters/PARAM",
               "write a livepatch sysfs attribute or a module parameter", parse_echo},
    ActionInfo{"cat", "cat /proc/NAME [> /dev/kmsg]|/sys/kernel/livepatch/...",
               "read /proc/NAME (runs NAME_proc_show in a user task; with > /dev/kmsg its lines "
               "go to the kernel log) or a sysfs file",
               parse_cat},
    ActionInfo{"grep", "grep 'TEXT' /proc/NAME [> /dev/kmsg]",
               "cat /proc/NAME keeping only the lines that contain TEXT", parse_grep},
    ActionInfo{"sysctl", "sysctl kernel.ftrace_enabled=0|1", "set kernel.ftrace_enabled",
               parse_sysctl},
    ActionInfo{"wait", "wait transition PATCH",
               "run until PATCH's transition is over (at most 60 simulated seconds)", parse_wait},
};

std::string action_names() {
    std::string out;
    for (const auto& a : k_actions) {
        out += out.empty() ? "" : ", ";
        out += a.name;
    }
    return out;
}

} // namespace

std::span<const ActionInfo> known_actions() {
    return k_actions;
}

Result<Action> parse_action(std::string_view text) {
    text = trim(text);
    size_t end = 0;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) {
        ++end;
    }
    const auto name = text.substr(0, end);
    if (name.empty()) {
        return make_error("empty action; expected one of: {}", action_names());
    }
    for (const auto& info : k_actions) {
        if (info.name == name) {
            return info.parse(text.substr(end));
        }
    }
    return make_error("unknown action '{}'; expected one of: {}", name, action_names());
}

Result<ReachPoint> parse_reach_point(std::string_view text) {
    auto words = split_words(text);
    if (words.size() == 1 && is_symbol_name(words[0])) {
        return ReachPoint{"", std::string(words[0])};
    }
    if (words.size() == 3 && words[1] == "reaches" && is_symbol_name(words[2])) {
        return ReachPoint{std::string(words[0]), std::string(words[2])};
    }
    return make_error("expected 'SYMBOL' or 'TASK reaches SYMBOL', got '{}'", trim(text));
}

Result<GuestArg> parse_guest_arg(std::string_view word) {
    if (is_symbol_name(word)) {
        return GuestArg{std::string(word)};
    }
    if (auto n = parse_guest_value(word)) {
        return GuestArg{*n};
    }
    return make_error("expected a number or a symbol name, got '{}'", word);
}

} // namespace klpemu::scenario
