// `klpemu step` and `klpemu gdb` end to end: a scripted session compared with its golden file,
// bad input that never ends the debugger, the interactive REPL driven through a real
// pseudo-terminal (libedit's prompt, a command, quit), and gdb-multiarch in batch mode against
// the remote stub: break on a symbol, step, reverse-step, read registers and memory.
#include "support/gdb_stub.h"
#include "support/read_until.h"
#include "support/run_process.h"
#include "support/temp_dir.h"

#include <doctest/doctest.h>

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <pty.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace klpemu::test;

namespace {

const std::string kRoot = KLPEMU_SOURCE_ROOT;
const std::string kScenario = kRoot + "/scenarios/seed/mark-windows-regs.toml";

// Reads from `fd` until `needle` appears in what was read (or ~20 s pass).

} // namespace

TEST_CASE("klpemu step: a scripted session matches its golden output") {
    const auto r = run_klpemu(
        fmt::format("step {} --script {}/step/mark-windows.cmds", kScenario, KLPEMU_TEST_DATA));
    CHECK(r.status == 0);
    const std::string expected = slurp(KLPEMU_TEST_DATA "/step/mark-windows.expected");
    REQUIRE_FALSE(expected.empty());
    CHECK(r.output == expected);
}

TEST_CASE("klpemu step: break FILE:LINE and next by line in assembly match the golden output") {
    // The trampolines' .S files carry the line table the assembler generates (as -g): a
    // breakpoint on a .S line, one `next` over a whole macro expansion, over a call, into C.
    const auto r = run_klpemu(
        fmt::format("step {} --script {}/step/asm-lines.cmds", kScenario, KLPEMU_TEST_DATA));
    CHECK(r.status == 0);
    const std::string expected = slurp(KLPEMU_TEST_DATA "/step/asm-lines.expected");
    REQUIRE_FALSE(expected.empty());
    CHECK(r.output == expected);
}

TEST_CASE("klpemu step: -c runs commands; bad commands get one line and the session goes on") {
    const auto r = run_klpemu(
        fmt::format("step {} -c stepi;nosuch;x/0x;x/9999x;$sp;break;watch;delete;info;cpu;task;"
                    "goto;back;back;999999;until;plt;bt;nobody;regs;patches;findings;stepi",
                    kScenario));
    CHECK(r.status == 0);
    CHECK(r.output.find("error: unknown command 'nosuch'") != std::string::npos);
    CHECK(r.output.find("error: x/Nx ADDR: N is 1..512") != std::string::npos);
    CHECK(r.output.find("error: plt: this scenario loads no module") != std::string::npos);
    // The last stepi still ran: two stops were printed after the opening line.
    CHECK(r.output.find("#1 cpu0") != std::string::npos);
}

TEST_CASE("klpemu step: stepi and back count instructions, not the idle clock between them") {
    // In uninterruptible-sleeper every CPU idles during `wait transition`: the clock runs on a
    // simulated second between two tries of the transition work (a few instructions each).
    TempDir dir;
    const auto script =
        dir.write("idle.cmds", "do\ndo\nstepi 1000\nback 999\nback 1\ncycles\nback 200\n");
    const auto r = run_klpemu(
        fmt::format("step {}/scenarios/livepatch/uninterruptible-sleeper.toml --script {}", kRoot,
                    script.string()));
    CHECK(r.status == 0);
    INFO(r.output);
    // 1000 instructions from #107 span idle seconds; 999 back is the first of them...
    CHECK(r.output.find("(klpemu) stepi 1000\n#3700024 ") != std::string::npos);
    CHECK(r.output.find("(klpemu) back 999\n#107 cpu1") != std::string::npos);
    // ...one more is the last before it, and no instruction ran before the first.
    CHECK(r.output.find("(klpemu) back 1\n#106 ") != std::string::npos);
    CHECK(r.output.find("cpu1: 67 instructions") != std::string::npos);
    // Before #106 ran clocks 0..105: 106 instructions, the one at #106 not yet among them.
    CHECK(r.output.find("(klpemu) back 200\nerror: only 106 instructions ran before this point") !=
          std::string::npos);
}

TEST_CASE("klpemu step: an unreadable scenario or script ends with status 2") {
    const auto missing = run_klpemu("step /nonexistent/x.toml -c stepi");
    CHECK(missing.status == 2);
    CHECK(missing.output.find("/nonexistent/x.toml") != std::string::npos);
    const auto script = run_klpemu(fmt::format("step {} --script /nonexistent/cmds", kScenario));
    CHECK(script.status == 2);
    CHECK(script.output.find("cannot read script /nonexistent/cmds") != std::string::npos);
}

TEST_CASE("klpemu step: the REPL at a real terminal shows its prompt and obeys") {
    int master = -1;
    const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
    REQUIRE(pid >= 0);
    if (pid == 0) {
        execl(KLPEMU_BINARY, KLPEMU_BINARY, "step", kScenario.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    std::string seen;
    REQUIRE_MESSAGE(read_until(master, seen, "(klpemu) "), seen);
    const std::string cmd = "break leaf\rcontinue\r";
    REQUIRE(write(master, cmd.data(), cmd.size()) == ssize_t(cmd.size()));
    CHECK_MESSAGE(read_until(master, seen, "leaf: mov x9, x30  (breakpoint 1)"), seen);
    const std::string bad = "nonsense\r";
    REQUIRE(write(master, bad.data(), bad.size()) == ssize_t(bad.size()));
    CHECK_MESSAGE(read_until(master, seen, "error: unknown command 'nonsense'"), seen);
    const std::string quit = "quit\r";
    REQUIRE(write(master, quit.data(), quit.size()) == ssize_t(quit.size()));
    CHECK(wait_exit(pid) == 0);
    close(master);
}

TEST_CASE("klpemu gdb: gdb-multiarch breaks on a symbol, steps, reverse-steps, reads state") {
    const auto gdb = run_process({"/usr/bin/env", "sh", "-c", "command -v gdb-multiarch"});
    REQUIRE_MESSAGE(gdb.exit_status == 0, "gdb-multiarch is missing: run scripts/install-deps.sh");
    TempDir dir;
    const auto symbols = dir.path() / "symbols.elf";
    const auto out_path = dir.path() / "stub.out";
    const GdbStub stub = start_gdb_stub(kScenario, out_path, {"--symbols", symbols.string()});
    const auto r = run_process(gdb_batch(stub.port,
                                         {"break *leaf",
                                          "continue",
                                          "p $pc",
                                          "stepi",
                                          "p $pc",
                                          "reverse-stepi",
                                          "p $pc",
                                          "p/x $x30",
                                          "x/2gx $sp",
                                          "p $v0",
                                          "info registers fpsr",
                                          "set $v0.d.u[0] = 0x1122334455667788",
                                          "set $v0.s.u[3] = 0xabcd",
                                          "p/x $v0.d.u",
                                          "set $fpcr = 0x1000000",
                                          "p/x $fpcr",
                                          "monitor bt",
                                          "info threads",
                                          "delete",
                                          "eval \"rwatch *(long*)%lu\", $x29",
                                          "continue",
                                          "detach"},
                                         {"symbol-file " + symbols.string()}));
    const std::string o = r.out + r.err; // gdb prints `monitor` output on stderr in batch mode.
    auto line = [&](const std::string& start) {
        const size_t at = o.find(start);
        return at == std::string::npos ? std::string() : o.substr(at, o.find('\n', at) - at);
    };
    CHECK_MESSAGE(o.find("hit Breakpoint 1, 0x") != std::string::npos, o);
    CHECK_MESSAGE(line("$1 = ").ends_with(" <leaf>"), o);   // Stopped before leaf's first insn,
    CHECK_MESSAGE(line("$2 = ").ends_with(" <leaf+4>"), o); // one step on,
    CHECK_MESSAGE(line("$3 = ").ends_with(" <leaf>"), o);   // and back.
    CHECK_MESSAGE(line("$4 = 0xffff8000").size() == 23, o); // x30: a kernel text address.
    CHECK_MESSAGE(line("0xffff80004000").find(":\t0x") != std::string::npos, o); // x/2gx $sp
    // FP/SIMD registers (org.gnu.gdb.aarch64.fpu): read through p, written through P and read
    // back, lanes as gdb's aarch64v union lays them out.
    CHECK_MESSAGE(line("$5 = {d = {f = {0, 0}, u = {0, 0}, s = {0, 0}}, s = {f = ").size() > 0, o);
    CHECK_MESSAGE(line("fpsr ").find("0x0") != std::string::npos, o);
    CHECK_MESSAGE(line("$6 = ") == "$6 = {0x1122334455667788, 0xabcd00000000}", o);
    CHECK_MESSAGE(line("$7 = ") == "$7 = 0x1000000", o);
    CHECK_MESSAGE(
        o.find("  truth      complete              leaf <- nonleaf+0x20") != std::string::npos, o);
    CHECK(o.find("call:nonleaf cpu0 running") != std::string::npos);
    // Z3: nonleaf's epilogue loads the frame record leaf's caller saved at x29.
    CHECK_MESSAGE(o.find("hit Hardware read watchpoint 2") != std::string::npos, o);
    // Z3: nonleaf's epilogue loads the frame record leaf's caller saved at x29.
    CHECK_MESSAGE(o.find("hit Hardware read watchpoint 2") != std::string::npos, o);
    CHECK(wait_exit(stub.pid) == 0);
    CHECK(slurp(out_path).find("klpemu: gdb disconnected") != std::string::npos);
}
