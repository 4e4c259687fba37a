// `klpemu step SCENARIO`: the interactive single-stepper (design.md §7). At a terminal it reads
// commands with libedit (line editing, history); with `--script FILE` or `-c "cmd; cmd"` it
// runs the same commands without one and prints plain text for golden files and bug reports;
// with neither and no terminal it reads commands from stdin. Ctrl-C ends a running move at the
// next instruction. Exit status: 0, or 2 when the scenario cannot be loaded or a script file
// cannot be read; a bad command never ends the debugger.
//
// With checkpoints on (the default; --checkpoint-interval 0 turns them off), this process is
// only the front end: it reads the commands and prints the answers of a session process
// (session_process.h), which a backward move replaces by a checkpoint's worker. Off, or if that
// process cannot be forked, the session runs here and going back replays from the start.
#include "scenarios/step_session.h"
#include "tools/session_process.h"
#include "tools/step_debugger.h"
#include "tools/step_server.h"
#include "tools/step_text.h"

#include <CLI/CLI.hpp>
#include <editline/readline.h>
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
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
    uint64_t checkpoint_interval = 1'000'000;
};

constexpr size_t kMaxCheckpoints = 32;

void print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

// Runs one command line wherever the session is; nullopt when the session is gone.
using Execute = std::function<std::optional<std::string>(const std::string& line)>;
struct Commands {
    Execute execute;
    std::function<bool()> quit;
};

// The command loop of a script or a -c list: each command echoed, then its answer.
bool run_script(const Commands& c, std::string_view text) {
    for (const std::string& cmd : script_commands(text)) {
        if (c.quit()) {
            break;
        }
        print(fmt::format("(klpemu) {}\n", cmd));
        auto out = c.execute(cmd);
        if (!out) {
            return false;
        }
        print(*out);
    }
    return true;
}

bool repl(const Commands& c) {
    const bool tty = isatty(0) != 0;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    if (tty) {
        rl_readline_name = "klpemu";
        using_history();
    }
    while (!c.quit()) {
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
        auto out = c.execute(line);
        if (!out) {
            return false;
        }
        print(*out);
    }
    return true;
}

std::optional<std::string> read_script(const StepOptions& o) {
    std::ifstream in(o.script);
    if (!in) {
        std::fprintf(stderr, "klpemu: error: cannot read script %s\n", o.script.c_str());
        return std::nullopt;
    }
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Script, then -c, then (with neither) the REPL. Exit status as the file header says.
int drive(const StepOptions& o, const Commands& c) {
    const auto lost = [] {
        std::fprintf(stderr, "klpemu: error: the session process ended unexpectedly\n");
        return 1;
    };
    if (!o.script.empty()) {
        auto text = read_script(o);
        if (!text) {
            return 2;
        }
        if (!run_script(c, *text)) {
            return lost();
        }
    }
    if (!o.commands.empty() && !run_script(c, o.commands)) {
        return lost();
    }
    if (o.script.empty() && o.commands.empty() && !repl(c)) {
        return lost();
    }
    return 0;
}

int run_in_process(const StepOptions& o) {
    auto session = scenario::StepSession::open(o.file);
    if (!session) {
        std::fprintf(stderr, "%s\n", session.error().message.c_str());
        return 2;
    }
    Debugger debugger(std::move(*session));
    print(debugger.stop_line() + "\n");
    debugger.session().set_poll([&debugger] {
        if (g_interrupted) {
            g_interrupted = 0;
            debugger.session().interrupt();
        }
    });
    Commands c;
    c.execute = [&debugger](const std::string& line) -> std::optional<std::string> {
        return debugger.execute(line);
    };
    c.quit = [&debugger] { return debugger.quit_requested(); };
    return drive(o, c);
}

// The session process: opens the scenario, answers the first stop, serves; never returns.
void session_main(const StepOptions& o, int fd, int lifeline) {
    auto session = scenario::StepSession::open(o.file);
    if (!session) {
        std::fprintf(stderr, "%s\n", session.error().message.c_str());
        send_reply(fd, SessionReply{::getpid(), 2, true, {}});
        return;
    }
    Debugger debugger(std::move(*session));
    StepServer server(debugger, fd);
    scenario::CheckpointOptions options;
    options.interval = o.checkpoint_interval;
    options.max = kMaxCheckpoints;
    options.lifeline = lifeline;
    debugger.session().enable_checkpoints(options, server);
    server.reply(debugger.stop_line() + "\n");
    server.serve();
}

int run_front_end(const StepOptions& o, SessionLink& link) {
    auto first = receive_reply(link.fd);
    if (!first || first->status != 0) {
        end_session_process(link);
        return first ? int(first->status) : 1;
    }
    print(first->text);
    bool quit = false;
    Commands c;
    c.execute = [&](const std::string& line) -> std::optional<std::string> {
        scenario::WireWriter w;
        w.str(line);
        if (!scenario::send_frame(link.fd, w.bytes())) {
            return std::nullopt;
        }
        auto reply = receive_reply(link.fd);
        if (!reply) {
            return std::nullopt;
        }
        quit = reply->quit;
        return reply->text;
    };
    c.quit = [&quit] { return quit; };
    const int status = drive(o, c);
    end_session_process(link);
    return status;
}

int run_step(const StepOptions& o) {
    if (o.checkpoint_interval != 0) {
        auto link =
            start_session_process([&o](int fd, int lifeline) { session_main(o, fd, lifeline); });
        if (link) {
            return run_front_end(o, *link);
        }
    }
    return run_in_process(o);
}

} // namespace

void register_step_command(CLI::App& app, int& exit_status) {
    auto options = std::make_shared<StepOptions>();
    auto* cmd = app.add_subcommand("step", "Single-step a scenario, forwards and backwards");
    cmd->add_option("scenario", options->file, "Scenario file (.toml)")->required();
    cmd->add_option("--script", options->script, "Run the commands in FILE, one per line");
    cmd->add_option("-c", options->commands, "Run these commands, separated by ';'");
    cmd->add_option("--checkpoint-interval", options->checkpoint_interval,
                    "Instructions between reverse-execution checkpoints (0: none, going back "
                    "replays from the start)")
        ->capture_default_str();
    cmd->callback([options, &exit_status] { exit_status = run_step(*options); });
}

} // namespace klpemu::tools
