// The scenario parser: a complete file parses into the data model, and every kind of mistake
// is an error naming file:line:column and what was expected.
#include "scenarios/scenario_parser.h"

#include "support/temp_dir.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::scenario;

namespace {

std::string error_of(std::string_view text) {
    auto r = parse_scenario_text(text, "t.toml");
    REQUIRE_MESSAGE(!r.ok(), "expected a parse error");
    return r.error().message;
}

constexpr std::string_view k_kernel = R"(
[[object]]
name = "vmlinux"
kind = "kernel"
asm = """
f:
    ret
"""
)";

} // namespace

TEST_CASE("a complete scenario parses into the data model") {
    auto r = parse_scenario_text(R"(
[scenario]
name = "demo"
description = "all keys"
tags = ["basics"]

[machine]
cpus = 2
core = "cortex-a72"
seed = 7
quantum = 500
budget = 100000
ftrace = "call-ops"
unwinder = "cfi"

[[object]]
name = "vmlinux"
kind = "kernel"
asm = """
add_one:
    add x0, x0, #1
    ret
"""

[[object]]
name = "mod"
kind = "module"
placement = "far"
asm = "helper:\n ret\n"

[[task]]
name = "worker"
entry = "add_one"
args = [1, "0x10", "helper"]
cpu = 1
repeat = 3

[[task]]
name = "spinner"
kind = "user"
entry = "add_one"
loop = true

[[step]]
do = "call add_one 41"

[[step]]
do = "irq 1"
at = 1000

[[step]]
do = "log hello world"
when = "worker reaches helper"

[[step]]
do = "until spinner reaches add_one"

[[expect]]
call = "add_one"
args = [41]
returns = 42

[[expect]]
log = "hello"

[[expect]]
no_finding = "store-below-sp"
where = "add_one"

[[expect]]
cycles = [10, 2000]
)",
                                 "dir/demo.toml");
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    const auto& s = *r;
    CHECK(s.name == "demo");
    CHECK(s.tags == std::vector<std::string>{"basics"});
    CHECK(s.machine.cpus == 2);
    CHECK(s.machine.core == "cortex-a72");
    CHECK(s.machine.ftrace == "call-ops");
    CHECK(s.machine.unwinder == "cfi");
    CHECK(s.machine.budget == 100000);
    REQUIRE(s.objects.size() == 2);
    CHECK(s.objects[0].kind == ObjectKind::Kernel);
    CHECK(s.objects[1].placement == Placement::Far);
    // Inline assembly keeps the file's line numbers: add_one is on line 20.
    CHECK(
        std::count(s.objects[0].text.begin(),
                   s.objects[0].text.begin() + static_cast<long>(s.objects[0].text.find("add_one")),
                   '\n') == 19);
    REQUIRE(s.tasks.size() == 2);
    CHECK(s.tasks[0].cpu == 1);
    CHECK(s.tasks[0].repeat == 3);
    REQUIRE(s.tasks[0].args.size() == 3);
    CHECK(std::get<uint64_t>(s.tasks[0].args[1]) == 16);
    CHECK(std::get<std::string>(s.tasks[0].args[2]) == "helper");
    CHECK(s.tasks[1].kind == TaskKind::User);
    CHECK(s.tasks[1].loop);
    REQUIRE(s.steps.size() == 4);
    CHECK(std::get<CallAction>(s.steps[0].action).function == "add_one");
    CHECK(s.steps[1].trigger.kind == Trigger::Kind::AtInstruction);
    CHECK(s.steps[1].trigger.instruction == 1000);
    CHECK(std::get<LogAction>(s.steps[2].action).text == "hello world");
    CHECK(s.steps[2].trigger.reach.task == "worker");
    CHECK(std::get<UntilAction>(s.steps[3].action).reach.symbol == "add_one");
    REQUIRE(s.expectations.size() == 4);
    CHECK(s.expectations[0].describe() == "add_one(41) returns 42");
    CHECK(s.expectations[2].describe() == "no finding store-below-sp at add_one");
    CHECK(s.expectations[3].describe() == "cycles in [10, 2000]");
    CHECK(s.expectations[0].loc.str() == "dir/demo.toml:61:1");
}

TEST_CASE("defaults: name from the file, args ftrace, kunwind, cortex-a53") {
    auto r = parse_scenario_text(k_kernel, "x/my_case.toml");
    REQUIRE(r.ok());
    CHECK(r->name == "my_case");
    CHECK(r->machine.ftrace == "args");
    CHECK(r->machine.unwinder == "kunwind");
    CHECK(r->machine.core == "cortex-a53");
    CHECK(r->machine.cpus == 1);
}

TEST_CASE("a kernel override reads the scenario for that era, with or without [machine]") {
    // klpemu run --kernel: the era's defaults (trampoline, unwinder) replace 6.17's.
    ParseOptions v65;
    v65.kernel = "6.5";
    auto bare = parse_scenario_text(k_kernel, "x.toml", v65);
    REQUIRE(bare.ok());
    CHECK(bare->machine.kernel == "6.5");
    CHECK(bare->machine.ftrace == "args");
    CHECK(bare->machine.unwinder == "fp-naive");
    // It wins over the file's own kernel key.
    auto pinned = parse_scenario_text("[machine]\nkernel = \"5.5\"\n" + std::string(k_kernel),
                                      "x.toml", v65);
    REQUIRE(pinned.ok());
    CHECK(pinned->machine.kernel == "6.5");
    CHECK(pinned->machine.ftrace == "args");
    // Without the override the file's key holds.
    auto own = parse_scenario_text("[machine]\nkernel = \"5.5\"\n" + std::string(k_kernel), "x.toml");
    REQUIRE(own.ok());
    CHECK(own->machine.kernel == "5.5");
    CHECK(own->machine.ftrace == "regs");
}

TEST_CASE("TOML syntax errors name file, line and column") {
    const auto e = error_of("[scenario]\nname = \"x\"\ndescription = \n");
    CHECK(e.starts_with("t.toml:3:"));
    CHECK(e.find("error: TOML syntax") != std::string::npos);
}

TEST_CASE("unknown keys are errors at the key, listing the known keys") {
    const auto e = error_of("[machine]\ncpus = 1\n  frobnicate = 3\n");
    CHECK(e.starts_with("t.toml:3:3: error: unknown key 'frobnicate' in [machine]"));
    CHECK(e.find("expected one of: cpus, core, seed") != std::string::npos);

    CHECK(error_of("[scenerio]\nname = \"x\"\n")
              .starts_with("t.toml:1:2: error: unknown key 'scenerio'"));
    CHECK(error_of(std::string(k_kernel) + "[[task]]\nname = \"t\"\nentry = \"f\"\ncpus = 1\n")
              .find("unknown key 'cpus' in [[task]] #1") != std::string::npos);
}

TEST_CASE("unknown names list the known ones") {
    const auto ftrace = error_of("[machine]\nftrace = \"regs-v9\"\n");
    CHECK(ftrace.starts_with("t.toml:2:10: error: [machine] ftrace: unknown value \"regs-v9\""));
    CHECK(ftrace.find("regs-v3, regs-v4, regs, args, call-ops") != std::string::npos);
    CHECK(error_of("[machine]\nunwinder = \"orc\"\n").find("fp-naive, seed-v4, kunwind, cfi") !=
          std::string::npos);
    CHECK(error_of("[machine]\ncore = \"m1\"\n").find("cortex-a53, cortex-a72, neoverse-n1") !=
          std::string::npos);
    CHECK(error_of("[scenario]\nrequires = [\"kpatch\"]\n").find("unknown feature \"kpatch\"") !=
          std::string::npos);
    const auto action = error_of(std::string(k_kernel) + "[[step]]\ndo = \"frobnicate 3\"\n");
    CHECK(action.starts_with("t.toml:10:7: error: [[step]] #1 do: unknown action 'frobnicate'"));
    CHECK(action.find("expected one of: run, until, irq, call, log") != std::string::npos);
}

TEST_CASE("wrong types and missing keys say what was expected") {
    CHECK(error_of("[machine]\ncpus = \"two\"\n") ==
          "t.toml:2:8: error: [machine] cpus: expected an integer, got a string");
    CHECK(error_of("[machine]\ncpus = 0\n").find("expected 1 to 8") != std::string::npos);
    CHECK(error_of("[[object]]\nname = \"k\"\nasm = \"\"\n").find("missing required key 'kind'") !=
          std::string::npos);
    CHECK(error_of("[[object]]\nname = \"k\"\nkind = \"kernel\"\n").find("exactly one of 'asm'") !=
          std::string::npos);
    CHECK(error_of("[object]\nname = \"k\"\n").find("write [[object]]") != std::string::npos);
    CHECK(error_of(std::string(k_kernel) + "[[task]]\nname = \"t\"\n")
              .find("[[task]] #1: missing required key 'entry'") != std::string::npos);
    CHECK(error_of(std::string(k_kernel) + "[[step]]\ndo = \"run\"\n").find("expected 'run N'") !=
          std::string::npos);
    CHECK(error_of(std::string(k_kernel) + "[[expect]]\nlog = \"a\"\nno_log = \"b\"\n")
              .starts_with("t.toml:11:1: error: [[expect]] #1: has both 'log' and 'no_log'"));
    CHECK(error_of(std::string(k_kernel) + "[[expect]]\nwhere = \"f\"\n")
              .find("expected exactly one of returns, log") != std::string::npos);
    CHECK(error_of(std::string(k_kernel) + "[[expect]]\ncycles = [5, 1]\n")
              .find("expected 0 <= LOW <= HIGH") != std::string::npos);
}

TEST_CASE("cross references are checked") {
    CHECK(error_of(std::string(k_kernel) + "[[task]]\nname = \"t\"\nentry = \"f\"\ncpu = 1\n")
              .starts_with("t.toml:12:7: error: task 't' cpu: expected 0 to 0"));
    CHECK(error_of(std::string(k_kernel) + "[[step]]\ndo = \"irq 3\"\n")
              .find("CPU 3 does not exist") != std::string::npos);
    CHECK(error_of(std::string(k_kernel) + "[[step]]\ndo = \"log x\"\nwhen = \"ghost reaches f\"\n")
              .find("no task named 'ghost'") != std::string::npos);
    CHECK(error_of("[[object]]\nname = \"m\"\nkind = \"module\"\nasm = \"\"\n")
              .find("modules need a kernel") != std::string::npos);
    CHECK(error_of(std::string(k_kernel) +
                   "[[object]]\nname = \"vmlinux\"\nkind = \"module\"\nasm = \"\"\n")
              .find("object 'vmlinux' is already defined") != std::string::npos);
}

TEST_CASE("source files resolve next to the scenario and must exist") {
    test::TempDir dir;
    dir.write("sub/code.S", "f: ret\n");
    auto file = dir.write("sub/s.toml",
                          "[[object]]\nname = \"k\"\nkind = \"kernel\"\nsource = \"code.S\"\n");
    auto r = parse_scenario_file(file);
    REQUIRE(r.ok());
    CHECK(r->objects[0].source_kind == SourceKind::AsmFile);
    CHECK(r->objects[0].path == dir.path() / "sub/code.S");

    auto missing =
        dir.write("s2.toml", "[[object]]\nname = \"k\"\nkind = \"kernel\"\nsource = \"nope.c\"\n");
    auto e = parse_scenario_file(missing);
    REQUIRE(!e.ok());
    CHECK(e.error().message.find("s2.toml:4:10: error: [[object]] #1 source: no such file") !=
          std::string::npos);
    CHECK(error_of("[[object]]\nname = \"k\"\nkind = \"kernel\"\nsource = \"x.rs\"\n")
              .find("expected a .S, .s, .c or .o file") != std::string::npos);
}

TEST_CASE("cflags: only for .c objects") {
    CHECK(error_of(R"(
[[object]]
name = "vmlinux"
kind = "kernel"
cflags = ["-O0"]
asm = """
f:
    ret
"""
)").find("cflags: only applies to a .c source") != std::string::npos);
}

TEST_CASE("finding kinds come from the registry: a misspelt kind is a located error") {
    const auto e =
        error_of(std::string(k_kernel) + "[[expect]]\nno_finding = \"store-bellow-sp\"\n");
    CHECK(e.starts_with("t.toml:10:14: error: [[expect]] #1 no_finding: unknown finding kind "
                        "'store-bellow-sp'"));
    CHECK(e.find("known kinds: abi-clobber, ") != std::string::npos);
    CHECK(e.find("store-below-sp") != std::string::npos);
    CHECK(error_of(std::string(k_kernel) + "[[expect]]\nfinding = \"Patched-brk\"\n")
              .find("unknown finding kind 'Patched-brk'") != std::string::npos);
    CHECK(parse_scenario_text(std::string(k_kernel) + "[[expect]]\nfinding = \"patched-brk\"\n",
                              "t.toml")
              .ok());
}

TEST_CASE("budget and quantum: zero and negative get the same located message") {
    CHECK(error_of("[machine]\nbudget = 0\n") ==
          "t.toml:2:10: error: [machine] budget: expected a positive number of instructions, got 0");
    CHECK(error_of("[machine]\nbudget = -5\n") ==
          "t.toml:2:10: error: [machine] budget: expected a positive number of instructions, got -5");
    CHECK(error_of("[machine]\nquantum = 0\n").find("[machine] quantum: expected a positive number") !=
          std::string::npos);
}

TEST_CASE("[machine] cycles picks the cycle model: fast by default, or pipeline") {
    auto fast = parse_scenario_text(k_kernel, "x.toml");
    REQUIRE(fast.ok());
    CHECK(fast->machine.cycles == "fast");
    auto pipe = parse_scenario_text(
        std::string("[machine]\ncycles = \"pipeline\"\n") + std::string(k_kernel), "x.toml");
    REQUIRE_MESSAGE(pipe.ok(), (pipe.ok() ? "" : pipe.error().message));
    CHECK(pipe->machine.cycles == "pipeline");
    const auto e = error_of("[machine]\ncycles = \"exact\"\n");
    CHECK(e.starts_with("t.toml:2:10: error: [machine] cycles: unknown value \"exact\""));
    CHECK(e.find("fast, pipeline") != std::string::npos);
}
