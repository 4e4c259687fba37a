// Registration of klpemu subcommands. Each command file defines one register_* function whose
// callback writes the command's exit status (0 ok, 1 a check failed, 2 bad input or error).
#pragma once

namespace CLI {
class App;
}

namespace klpemu::tools {

// Adds every subcommand to `app`; the one that runs stores its exit status in `exit_status`,
// which must outlive app.parse().
void register_commands(CLI::App& app, int& exit_status);

} // namespace klpemu::tools
