// The subcommand table of the klpemu tool.
#include "tools/commands.h"

#include <CLI/CLI.hpp>

namespace klpemu::tools {

void register_run_command(CLI::App& app, int& exit_status); // tools/run_command.cpp

void register_commands(CLI::App& app, int& exit_status) {
    (void)app;
    (void)exit_status;
    register_run_command(app, exit_status);
}

} // namespace klpemu::tools
