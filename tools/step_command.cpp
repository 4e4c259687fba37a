// `klpemu step SCENARIO`: the interactive single-stepper (design.md §7). At a terminal it reads
// commands with libedit (line editing, history); with `--script FILE` or `-c "cmd; cmd"` it
// runs the same commands without one and prints plain text for golden files and bug reports;
// with neither and no terminal it reads commands from stdin. Ctrl-C ends a running move at the
// next instruction. Exit status: 0, or 2 when the scenario cannot be loaded or a script file
// cannot be read; a bad command never ends the debugger.
#include "scenarios/step_session.h"
#include "tools/step_debugger.h"

#include <CLI/CLI.hpp>
#include <editline/readline.h>
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace klpemu::tools {

namespace {

// Set by SIGINT, read by the session's poll: a signal handler can only reach static storage,
// the one piece of process-wide state here.
volatile std::sig_atomic_t g_interrupted = 0;

void on_sigint(int) {
    g_interrupted = 1;
}

struct StepOptions {
    std::string file;
    std::string script;
    std::string commands;
};

void print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

int repl(Debugger& debugger) {
    const bool tty = isatty(0) != 0;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    debugger.session().set_poll([&debugger] {
        if (g_interrupted) {
            g_interrupted = 0;
            debugger.session().interrupt();
        }
    });
    if (tty) {
        rl_readline_name = "klpemu";
        using_history();
    }
    while (!debugger.quit_requested()) {
        std::string line;
        if (tty) {
            char* raw = readline("(klpemu) ");
            if (raw == nullptr) {
                print("\n");
                break;
            }
            line = raw;
            std::free(raw);
            if (!line.empty()) {
                add_history(line.c_str());
            }
        } else {
            if (!std::getline(std::cin, line)) {
                break;
            }
            print(fmt::format("(klpemu) {}\n", line));
        }
        g_interrupted = 0;
        print(debugger.execute(line));
    }
    return 0;
}

int run_step(const StepOptions& o) {
    auto session = scenario::StepSession::open(o.file);
    if (!session) {
        std::fprintf(stderr, "%s\n", session.error().message.c_str());
        return 2;
    }
    Debugger debugger(std::move(*session));
    print(debugger.stop_line() + "\n");
    if (!o.script.empty()) {
        std::ifstream in(o.script);
        if (!in) {
            std::fprintf(stderr, "klpemu: error: cannot read script %s\n", o.script.c_str());
            return 2;
        }
        std::stringstream text;
        text << in.rdbuf();
        print(debugger.execute_script(text.str()));
    }
    if (!o.commands.empty()) {
        print(debugger.execute_script(o.commands));
    }
    if (o.script.empty() && o.commands.empty()) {
        return repl(debugger);
    }
    return 0;
}

} // namespace

void register_step_command(CLI::App& app, int& exit_status) {
    auto options = std::make_shared<StepOptions>();
    auto* cmd = app.add_subcommand("step", "Single-step a scenario, forwards and backwards");
    cmd->add_option("scenario", options->file, "Scenario file (.toml)")->required();
    cmd->add_option("--script", options->script, "Run the commands in FILE, one per line");
    cmd->add_option("-c", options->commands, "Run these commands, separated by ';'");
    cmd->callback([options, &exit_status] { exit_status = run_step(*options); });
}

} // namespace klpemu::tools
