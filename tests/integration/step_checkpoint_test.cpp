// Reverse execution through checkpoints (scenarios/step_checkpoints.h), end to end through the
// klpemu binary, because a backward move moves the session into another process: the state
// after going back to N through a checkpoint equals the state of a fresh session run straight
// to N without checkpoints (every view, and digests of the machine and of all guest memory);
// reverse-continue across several checkpoint intervals finds what the replay from the start
// finds; the move really started from a checkpoint (`info checkpoints`); no process of the
// session outlives it (quit, end of input, the front end killed); and gdb reverse-steps
// through a checkpoint, with a register write dropping the checkpoints after it.
#include "support/gdb_stub.h"
#include "support/read_until.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace klpemu::test;

namespace {

const std::string kReverse = std::string(KLPEMU_TEST_DATA) + "/step/reverse-exact.toml";
const std::string kViews = "regs; tasks; bt; findings; log; cycles; patches; info digest";

ProcessResult step(const std::string& interval, const std::string& commands) {
    return run_process(
        {KLPEMU_BINARY, "step", kReverse, "--checkpoint-interval", interval, "-c", commands});
}

// The answer of the command echoed as "(klpemu) CMD", up to the next echo.
std::string answer(const std::string& out, const std::string& cmd) {
    const std::string echo = "(klpemu) " + cmd + "\n";
    const size_t at = out.find(echo);
    if (at == std::string::npos) {
        return "<no " + cmd + ">";
    }
    const size_t start = at + echo.size();
    const size_t end = out.find("(klpemu) ", start);
    return out.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// "replayed K instructions from the checkpoint at C": {K, C}; C = -1 for "from the start".
std::pair<long, long> last_move(const std::string& info) {
    const size_t at = info.find("replayed ");
    if (at == std::string::npos) {
        return {-1, -2};
    }
    const long k = std::stol(info.substr(at + 9));
    const size_t from = info.find("from the checkpoint at ", at);
    const size_t line_end = info.find('\n', at);
    if (from == std::string::npos || from > line_end) {
        return {k, -1};
    }
    return {k, std::stol(info.substr(from + 23))};
}

// True once this process (a child subreaper) has no child left, waiting up to `seconds`;
// leftovers are killed so that a failure does not leak them.
bool no_children_left(int seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (true) {
        const pid_t p = waitpid(-1, nullptr, WNOHANG);
        if (p < 0 && errno == ECHILD) {
            return true;
        }
        if (p > 0) {
            continue;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const std::string me = std::to_string(getpid());
    const auto r = run_process({"/usr/bin/pkill", "-KILL", "-P", me});
    (void)r;
    while (waitpid(-1, nullptr, 0) > 0) {
    }
    return false;
}

// `klpemu step` on reverse-exact with stdin a pipe we write; stdout into `out`.
struct Interactive {
    pid_t pid = -1;
    int in = -1;
    int out = -1;
};

Interactive start_interactive(const std::string& interval) {
    int to[2];
    int from[2];
    REQUIRE(pipe(to) == 0);
    REQUIRE(pipe(from) == 0);
    Interactive s;
    s.pid = fork();
    REQUIRE(s.pid >= 0);
    if (s.pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[1]);
        close(from[0]);
        execl(KLPEMU_BINARY, KLPEMU_BINARY, "step", kReverse.c_str(), "--checkpoint-interval",
              interval.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    s.in = to[1];
    s.out = from[0];
    return s;
}

} // namespace

TEST_CASE("step checkpoints: going back through a checkpoint gives the state of a straight run") {
    const auto fresh = step("0", "goto 9000; " + kViews);
    REQUIRE(fresh.exit_status == 0);
    const std::string stop = answer(fresh.out, "goto 9000");
    REQUIRE(stop.starts_with("#9000 cpu"));
    const std::vector<std::string> paths = {"goto 21000; back 12000", "goto 21000; goto 9000",
                                            "goto 21000; goto 9001; back 1"};
    for (const std::string& path : paths) {
        CAPTURE(path);
        const auto r = step("1000", path + "; " + kViews + "; info checkpoints");
        REQUIRE(r.exit_status == 0);
        CHECK(r.err.empty());
        const std::string last = path.substr(path.rfind("; ") + 2);
        CHECK(answer(r.out, last) == stop);
        for (const auto& view :
             {"regs", "tasks", "bt", "findings", "log", "cycles", "patches", "info digest"}) {
            CAPTURE(view);
            CHECK(answer(r.out, view) == answer(fresh.out, view));
        }
        // The move started from the checkpoint of its interval, not from the start.
        const auto [replayed, from] = last_move(answer(r.out, "info checkpoints"));
        CHECK(from >= 8000);
        CHECK(from <= 9000);
        CHECK(replayed >= 0);
        CHECK(replayed < 1000);
    }
    // Without checkpoints the same move replays everything.
    const auto off = step("0", "goto 21000; back 12000; info checkpoints");
    CHECK(answer(off.out, "info checkpoints") ==
          "checkpoints: off (going back replays from the start)\nlast backward move: replayed "
          "9000 instructions from the start; all 1: 9000 instructions\n");
}

TEST_CASE("step checkpoints: reverse-continue across intervals finds what a replay finds") {
    const std::string commands =
        "break on transition; watch busy_stop; goto 21000; reverse-continue; info digest; "
        "reverse-continue; tasks; delete; break busy_work_func; goto 21000; reverse-continue; "
        "reverse-stepi 3; regs; info digest; delete; break on irq; goto 21000; reverse-continue; "
        "info digest; reverse-continue; info breaks";
    const auto off = step("0", commands);
    const auto on = step("700", commands + "; info checkpoints");
    REQUIRE(off.exit_status == 0);
    REQUIRE(on.exit_status == 0);
    CHECK(on.out.substr(0, on.out.rfind("(klpemu) info checkpoints")) == off.out);
    CHECK(last_move(answer(on.out, "info checkpoints")).second > 0);
}

TEST_CASE("step checkpoints: no process of the session outlives it") {
    REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0); // Orphans of klpemu become ours.
    SUBCASE("quit after a reverse move") {
        const auto r = step("100", "goto 20000; back 1; back 5000; quit");
        CHECK(r.exit_status == 0);
        CHECK(r.out.find("#14999 cpu") != std::string::npos);
        CHECK(no_children_left(0));
    }
    SUBCASE("end of input after a reverse move") {
        Interactive s = start_interactive("100");
        const std::string commands = "goto 20000\nback 1\n";
        REQUIRE(write(s.in, commands.data(), commands.size()) == ssize_t(commands.size()));
        close(s.in);
        std::string seen;
        CHECK(read_until(s.out, seen, "#19999 cpu", std::chrono::seconds(60)));
        int status = 0;
        REQUIRE(waitpid(s.pid, &status, 0) == s.pid);
        CHECK(WIFEXITED(status));
        close(s.out);
        CHECK(no_children_left(0));
    }
    SUBCASE("the front end killed") {
        Interactive s = start_interactive("100");
        const std::string commands = "goto 20000\nback 1\n";
        REQUIRE(write(s.in, commands.data(), commands.size()) == ssize_t(commands.size()));
        std::string seen;
        CHECK(read_until(s.out, seen, "#19999 cpu", std::chrono::seconds(60)));
        kill(s.pid, SIGKILL);
        REQUIRE(waitpid(s.pid, nullptr, 0) == s.pid);
        close(s.in);
        close(s.out);
        // The lifeline pipe's write end died with the front end: every checkpoint sees end of
        // file, the session process sees its socket close.
        CHECK(no_children_left(10));
    }
}

namespace {

// One gdb-multiarch session against `klpemu gdb` on reverse-exact; everything gdb printed.
std::string gdb_session(const std::string& interval) {
    TempDir dir;
    const auto out_path = dir.path() / "stub.out";
    const GdbStub stub = start_gdb_stub(kReverse, out_path, {"--checkpoint-interval", interval});
    const auto r = run_process(gdb_batch(
        stub.port, {"monitor goto 3000", "monitor back 1500", "monitor info checkpoints", "stepi",
                    "stepi", "reverse-stepi", "monitor where",
                    "info registers x0 x1 x2 x29 x30 sp pc", "monitor info digest",
                    "monitor info checkpoints", "set $x1 = 7", "monitor info checkpoints",
                    "monitor break on irq", "reverse-continue", "monitor where", "detach"}));
    CHECK(wait_exit(stub.pid) == 0);
    CHECK(slurp(out_path).find("klpemu: gdb disconnected") != std::string::npos);
    return r.out + r.err; // gdb prints `monitor` output on stderr in batch mode.
}

// Without the lines of `info checkpoints`.
std::string without_checkpoint_lines(const std::string& text) {
    std::istringstream lines(text);
    std::string out;
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("checkpoints:") && !line.starts_with("last backward move:")) {
            out += line + "\n";
        }
    }
    return out;
}

} // namespace

TEST_CASE("step checkpoints: gdb reverse-steps through a checkpoint, a write drops later ones") {
    const std::string o = gdb_session("100");
    CHECK_MESSAGE(o.find("#1500 cpu") != std::string::npos, o);
    CHECK_MESSAGE(o.find("machine digest 0x") != std::string::npos, o);
    // bc (reverse-continue) through checkpoints to the last IRQ before the stop.
    CHECK_MESSAGE(o.find("(event irq: cpu") != std::string::npos, o);
    // gdb sees what it sees without checkpoints.
    CHECK(without_checkpoint_lines(o) == without_checkpoint_lines(gdb_session("0")));
    // monitor back 1500 and gdb's reverse-stepi both went back from a checkpoint.
    const size_t first = o.find("last backward move: replayed ");
    REQUIRE_MESSAGE(first != std::string::npos, o);
    CHECK_MESSAGE(last_move(o.substr(first)).second >= 1400, o);
    const size_t second = o.find("last backward move: replayed ", first + 1);
    REQUIRE_MESSAGE(second != std::string::npos, o);
    CHECK_MESSAGE(last_move(o.substr(second)).second >= 1400, o);

    // Before the write, checkpoints up to 3000 are kept; after it (at the stop, instruction
    // 1500 or 1501), none after it.
    // The kept list of the n-th `monitor info checkpoints` (0-based).
    const auto kept = [&](int n) {
        size_t at = o.find("checkpoints: every");
        for (int i = 0; i < n && at != std::string::npos; ++i) {
            at = o.find("checkpoints: every", at + 1);
        }
        if (at == std::string::npos) {
            return std::vector<long>{};
        }
        at = o.find("kept:", at);
        std::vector<long> clocks;
        std::istringstream words(o.substr(at + 5, o.find('\n', at) - at - 5));
        for (long c = 0; words >> c;) {
            clocks.push_back(c);
        }
        return clocks;
    };
    const auto before = kept(1);
    REQUIRE_MESSAGE(!before.empty(), o);
    CHECK_MESSAGE(before.back() > 2800, o);
    const auto after = kept(2);
    REQUIRE_MESSAGE(!after.empty(), o);
    CHECK_MESSAGE(after.back() <= 1501, o);
    CHECK_MESSAGE(after.back() >= 1400, o);
}
