// The scenario data model: what a parsed scenario TOML file says, as plain values. A scenario
// names a machine, the objects to load (kernel, modules, livepatches), the tasks to start, a
// timeline of steps and the expectations checked afterwards (design.md §6). Every element keeps
// the file:line:column it came from, so that errors found later (an unknown symbol at run time,
// a failed expectation) still point into the file the user wrote.
#pragma once

#include "emu/c_compiler.h"
#include "emu/image.h"
#include "emu/result.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace klpemu::scenario {

// A position in a scenario file; printed as `file:line:col`.
struct SourceLoc {
    std::string file;
    int line = 0;
    int column = 0;

    std::string str() const;
};

// An error located in a scenario file: `file:line:col: error: message`.
Error located_error(const SourceLoc& loc, std::string_view message);

// `[machine]`: the emulated system. Names are validated against known_names.h.
struct MachineSpec {
    int cpus = 1;
    std::string core = "cortex-a53";  // Cycle model (LLVM scheduling model name).
    std::string cycles = "fast";      // Pipeline model: "fast" or "pipeline" (emu/cpu_clock.h).
    uint64_t seed = 0;                // Interleaving seed; same seed => same transcript.
    uint64_t quantum = 1000;          // Instructions per scheduling quantum.
    uint64_t budget = 10'000'000;     // Instruction budget for the whole run.
    std::string kernel = "6.17";      // Kernel era (emu/kernel_era.h); sets the defaults below.
    std::string ftrace = "args";      // ftrace trampoline variant (default: the era's).
    std::string unwinder = "kunwind"; // Unwinder policy for reliability checks (the era's).
    std::string policies;             // "all": check every policy; empty: just `unwinder`.
    bool check_unwind = false;        // Attach the reliability checker (set by the three keys).
    bool module_init_ftrace_plt = true; // The era's; false: no .init.text.ftrace_trampoline.
    // `module_init_ftrace_plt = false` said explicitly: v6.5..v6.17-rc4, where an init call site
    // out of the core PLT's reach got BRK #0x100 patched in (before a7ed7b9d0ebb).
    bool init_plt_brk = false;
    bool data_cache = false;            // Model the L1 D-cache and D-TLB (emu/data_side.h).
    bool erratum_843419 = false;        // Skip PLT slots whose ADRP would sit at 0xff8/0xffc.
    std::string stale_fetch = "new";    // "new" / "old": emu/stale_fetch.h.
    // A kernel tree's entry-ftrace.S to run as the trampoline (absolute; empty: the bundled
    // variant) and the Kconfig overrides it is built with ("CONFIG_X=y|n"; docs/own-code.md).
    std::filesystem::path ftrace_source;
    std::vector<std::string> kconfig;
    // `ftrace_source_edit`: a one-hunk edit of that file as read (patcher/ftrace_source_hunk.h).
    std::vector<std::string> ftrace_source_edit;
    // Explicit keys that make a kernel that never existed ("kernel 5.5 never had ..."); the
    // runner prints each as a `warning:` line at the top of the transcript.
    std::vector<std::string> era_warnings;
};

enum class SourceKind { InlineAsm, AsmFile, CFile, ObjectFile };
enum class Placement { Default, Near, Far, Address };

// `[[object]]`: one ELF relocatable object to load.
struct ObjectSpec {
    std::string name;
    ObjectKind kind = ObjectKind::Kernel;
    SourceKind source_kind = SourceKind::InlineAsm;
    std::string text;           // Inline assembly (InlineAsm only), padded so lines match the file.
    std::filesystem::path path; // Absolute path of the source or object file (file kinds).
    Placement placement = Placement::Default;
    uint64_t address = 0;       // Placement::Address only.
    Placement init_placement = Placement::Default; // Init memory; Default: beside the core.
    uint64_t init_address = 0;  // init_placement == Address only.
    bool deferred = false;      // Loaded by a `module load NAME` step, not at start.
    Compiler compiler = Compiler::Clang; // klpemu::Compiler (emu/c_compiler.h).
    std::vector<std::string> cflags;     // .c only: added after klpemu's kbuild-like flags.
    SourceLoc loc;
};

enum class TaskKind { Kthread, User };

// A value passed to guest code: a number, or a symbol resolved to its address at run time.
using GuestArg = std::variant<uint64_t, std::string>;

// `[[task]]`: a task started before the timeline runs.
struct TaskSpec {
    std::string name;
    TaskKind kind = TaskKind::Kthread;
    std::string entry;
    std::vector<GuestArg> args;
    std::optional<int> cpu; // Affinity; none = any CPU.
    uint64_t repeat = 1;    // Times the entry function is called (ignored with loop).
    bool loop = false;      // Call the entry function forever.
    SourceLoc loc;
};

// "[TASK reaches] SYMBOL": a task (or any task) is about to execute SYMBOL.
struct ReachPoint {
    std::string task; // Empty: any task.
    std::string symbol;

    std::string str() const;
};

// When a step fires.
struct Trigger {
    enum class Kind { AfterPrevious, AtInstruction, WhenReaches };
    Kind kind = Kind::AfterPrevious;
    uint64_t instruction = 0; // AtInstruction.
    ReachPoint reach;         // WhenReaches.
    SourceLoc loc;            // The `at` or `when` value, for messages.
};

// Actions (action_table.h parses them from the `do` string).
struct RunAction {
    uint64_t instructions = 0;
};
struct UntilAction {
    ReachPoint reach;
};
struct IrqAction {
    int cpu = 0;
};
struct CallAction {
    std::string function;
    std::vector<GuestArg> args;
};
struct LogAction {
    std::string text;
};
struct ModuleAction {
    bool load = true; // `module load NAME` (insmod) or `module unload NAME` (rmmod).
    std::string name;
};
// `ftrace enable FILTER [tracer=function|graph]` / `ftrace disable FILTER` (patcher/ftrace.h).
struct FtraceAction {
    bool enable = true;
    std::string filter;              // Function names or globs, space separated.
    std::string tracer = "function"; // "function" or "graph" (enable only).
    // `ftrace register_direct FILTER TRAMP` / `modify_direct FILTER TRAMP` /
    // `unregister_direct FILTER`: register_ftrace_direct and friends (6.4+, docs/ftrace.md).
    enum class Direct { None, Register, Modify, Unregister };
    Direct direct = Direct::None;
    std::string trampoline; // The direct trampoline's symbol (Register, Modify).
};
// The livepatch shell vocabulary, as the kernel's selftests type it (docs/livepatch.md):
// `insmod NAME [p=v...]`, `rmmod NAME`, `echo V > /sys/kernel/livepatch/...`, `cat PATH`,
// `sysctl kernel.ftrace_enabled=V`, `wait transition NAME`.
struct ShellAction {
    enum class Kind { Insmod, Rmmod, Echo, Cat, Sysctl, Wait };
    Kind kind = Kind::Insmod;
    std::string name;                // Module, path, sysctl key or patch name.
    std::string value;               // echo / sysctl value; cat: "/dev/kmsg" redirects.
    std::vector<std::string> params; // insmod parameters, `name=value`.
    std::string shown; // The `% ` transcript line the selftests log; empty: none.
    std::string grep; // Cat written as `grep 'TEXT' FILE`: only lines containing TEXT.
};
using Action =
    std::variant<RunAction, UntilAction, IrqAction, CallAction, LogAction, FtraceAction,
                 ModuleAction, ShellAction>;

// `[[step]]`: one timeline entry.
struct Step {
    std::string text; // The `do` string as written, echoed as `% text` in the transcript.
    Action action;
    Trigger trigger;
    SourceLoc loc;
};

enum class ExpectKind {
    Returns,         // call = FUNC [args = [...]], returns = V
    LogPresent,      // log = "text"
    LogAbsent,       // no_log = "text"
    FindingPresent,  // finding = "kind" [where = "func"] [message = "text"]
    FindingAbsent,   // no_finding = "kind" [where = "func"] [message = "text"]
    NoFindings,      // no_findings = true
    InstructionWindow, // instructions = [lo, hi]
    CycleWindow,     // cycles = [lo, hi]
};

// `[[expect]]`: one condition checked after the run.
struct Expectation {
    ExpectKind kind = ExpectKind::NoFindings;
    std::string function;                    // Returns.
    std::optional<std::vector<GuestArg>> args; // Returns: only calls with these arguments.
    uint64_t value = 0;                      // Returns.
    std::string text;                        // Log text or finding kind.
    std::string where;                       // Finding location filter (function or func+0x..).
    std::string message;                     // Finding message filter (a substring).
    uint64_t low = 0, high = 0;              // Windows (inclusive).
    SourceLoc loc;

    // One-line human description, e.g. "add_one(41) returns 42".
    std::string describe() const;
};

// A whole scenario file.
struct Scenario {
    std::string name; // [scenario] name, default the file stem.
    std::string description;
    std::vector<std::string> tags;
    std::vector<std::string> requires_features;
    MachineSpec machine;
    std::vector<ObjectSpec> objects;
    std::vector<TaskSpec> tasks;
    std::vector<Step> steps;
    std::vector<Expectation> expectations;
    std::filesystem::path file; // The scenario file as given.
};

// Formats a guest argument as written: decimal/hex number or symbol name.
std::string arg_str(const GuestArg& arg);

} // namespace klpemu::scenario
