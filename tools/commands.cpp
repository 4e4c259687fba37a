// The subcommand table of the klpemu tool.
#include "tools/commands.h"

#include "tools/objdump_command.h"

#include <CLI/CLI.hpp>

namespace klpemu::tools {

void register_run_command(CLI::App& app, int& exit_status);  // tools/run_command.cpp
void register_step_command(CLI::App& app, int& exit_status); // tools/step_command.cpp
void register_gdb_command(CLI::App& app, int& exit_status);  // tools/gdb_command.cpp

void register_commands(CLI::App& app, int& exit_status) {
    register_run_command(app, exit_status);
    register_objdump_command(app, exit_status);
    register_step_command(app, exit_status);
    register_gdb_command(app, exit_status);
}

} // namespace klpemu::tools
