// klpemu: command-line front end (design.md §7). Each subcommand lives in its own file and
// registers itself here; exit status 0 = success, 1 = a check failed, 2 = bad input or error.
#include "tools/commands.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

namespace {

// "unknown subcommand 'frob'; known subcommands: run, step, ..." when argv[1] names none of
// them (CLI11 alone would only say "The following arguments were not expected"); else empty.
std::string unknown_subcommand(CLI::App& app, int argc, char** argv) {
    if (argc < 2 || argv[1][0] == '-') {
        return {};
    }
    std::string known;
    for (const CLI::App* sub : app.get_subcommands({})) {
        if (sub->check_name(argv[1])) {
            return {};
        }
        known += (known.empty() ? "" : ", ") + sub->get_name();
    }
    return "unknown subcommand '" + std::string(argv[1]) + "'; known subcommands: " + known;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"klpemu: a cycle-level AArch64 emulator for arm64 kernel patching semantics"};
    app.set_version_flag("--version", "klpemu 0.1.0");
    app.require_subcommand(1);
    int exit_status = 0;
    klpemu::tools::register_commands(app, exit_status);
    if (const std::string unknown = unknown_subcommand(app, argc, argv); !unknown.empty()) {
        std::fprintf(stderr, "klpemu: error: %s\n", unknown.c_str());
        return 2;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    return exit_status;
}
