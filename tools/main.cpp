// klpemu: command-line front end (design.md §7). Each subcommand lives in its own file and
// registers itself here; exit status 0 = success, 1 = a check failed, 2 = bad input or error.
#include "tools/commands.h"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    CLI::App app{"klpemu: a cycle-level AArch64 emulator for arm64 kernel patching semantics"};
    app.set_version_flag("--version", "klpemu 0.1.0");
    app.require_subcommand(1);
    int exit_status = 0;
    klpemu::tools::register_commands(app, exit_status);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    return exit_status;
}
