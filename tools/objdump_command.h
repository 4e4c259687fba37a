// `klpemu objdump`: prints a loaded image (sections, symbols, patch sites, disassembly).
#pragma once

namespace CLI {
class App;
}

namespace klpemu::tools {

// Adds the objdump subcommand; its callback stores 0 on success, 2 on bad input.
void register_objdump_command(CLI::App& app, int& exit_status);

} // namespace klpemu::tools
