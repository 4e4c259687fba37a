// klpemu_guest_fuzz: the guest-execution fuzzer (issue 18). Generates scenario cases from
// consecutive seeds (guest_case.h) and runs each through the real scenario runner in a worker
// process. The parent watches the worker: a worker killed by a signal is a host crash (the
// case is written out as crash-SEED.toml, reproducible with `klpemu run`), a case that runs
// past --hang-seconds is a hang (hang-SEED.toml); both are counted and the worker restarts at
// the next seed. Verdict errors that come from the machine rather than from the generated input
// are counted separately and listed: they are emulator bugs too.
//
// Two modes: `scenario` (default; one generated scenario per seed, ftrace variants and all)
// and `machine` (volume: one batch of rounds of 1-8 streams on one machine per seed,
// guest_machine_batch.h).
//
//   klpemu_guest_fuzz [--mode scenario|machine] [--seed S] [--count N] [--seconds T]
//                     [--hang-seconds H] [--out DIR]
//   klpemu_guest_fuzz --print SEED    (the scenario case for SEED, for `klpemu run`)
//
// Exit status: 0 when no crash, hang or machine error happened, 1 otherwise, 2 on bad usage.
#include "guest_case.h"
#include "guest_machine_batch.h"

#include "scenarios/machine_backend.h"
#include "scenarios/runner.h"
#include "scenarios/scenario_parser.h"

#include <fmt/format.h>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace {

using namespace klpemu;
using Clock = std::chrono::steady_clock;

struct Options {
    uint64_t seed = 1;
    uint64_t count = UINT64_MAX;
    double seconds = 0; // 0: no time limit
    double hang_seconds = 30;
    std::filesystem::path out = "fuzz-out";
    bool machine_mode = false;
};

constexpr uint64_t kRoundsPerBatch = 100;

constexpr size_t kKinds = 32;
constexpr size_t kErrors = 16;

// Counters the worker updates and the parent reads (MAP_SHARED, survives a worker crash).
struct Shared {
    std::atomic<uint64_t> current{0};   // Seed being run.
    std::atomic<int64_t> started_ms{0}; // When it started (steady clock).
    std::atomic<uint64_t> done{0};      // Cases finished.
    std::atomic<uint64_t> words{0};
    std::atomic<uint64_t> cpus_hist[9]{};
    std::atomic<uint64_t> ftrace_on{0};
    std::atomic<uint64_t> status[4]{}; // pass, fail, error, skip
    char kind_names[kKinds][40] = {};
    std::atomic<uint64_t> kind_counts[kKinds]{};
    char error_texts[kErrors][200] = {};
    std::atomic<uint64_t> error_seeds[kErrors]{};
    std::atomic<uint64_t> error_counts[kErrors]{};
    std::atomic<uint64_t> machine_errors{0};
    std::atomic<uint64_t> streams{0}; // Machine mode: streams run.
    std::atomic<uint64_t> undefined{0};
    std::atomic<uint64_t> findings{0};
};

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
        .count();
}

void count_kind(Shared& s, const std::string& kind) {
    for (size_t i = 0; i < kKinds; ++i) {
        if (s.kind_names[i][0] == 0) {
            std::snprintf(s.kind_names[i], sizeof s.kind_names[i], "%s", kind.c_str());
        }
        if (kind == s.kind_names[i]) {
            ++s.kind_counts[i];
            return;
        }
    }
}

// Errors the generator cannot cause: the machine or Unicorn failed on valid input.
bool is_machine_error(const std::string& message) {
    return message.find("machine: cpu") != std::string::npos ||
           message.find("unicorn:") != std::string::npos ||
           message.find("text guard") != std::string::npos;
}

void count_error(Shared& s, uint64_t seed, const std::string& message, bool always = false) {
    if (!always && !is_machine_error(message)) {
        return;
    }
    ++s.machine_errors;
    const std::string key = message.substr(0, sizeof s.error_texts[0] - 1);
    for (size_t i = 0; i < kErrors; ++i) {
        if (s.error_texts[i][0] == 0) {
            std::snprintf(s.error_texts[i], sizeof s.error_texts[i], "%s", key.c_str());
            s.error_seeds[i] = seed;
        }
        if (key == s.error_texts[i]) {
            ++s.error_counts[i];
            return;
        }
    }
}

[[noreturn]] void worker(Shared& s, const Options& o, uint64_t from, uint64_t to) {
    const scenario::Runner runner(scenario::machine_backend_factory());
    const std::filesystem::path file = o.out / "case.toml"; // never written: names messages
    for (uint64_t seed = from; seed < to; ++seed) {
        s.current = seed;
        s.started_ms = now_ms();
        if (o.machine_mode) {
            const fuzz::BatchStats b = fuzz::run_machine_batch(
                seed, kRoundsPerBatch, [&](uint64_t) { s.started_ms = now_ms(); });
            ++s.cpus_hist[size_t(b.cpus)];
            s.streams += b.streams;
            s.words += b.words;
            s.undefined += b.undefined;
            s.findings += b.findings;
            if (b.machine_error) {
                count_error(s, seed, b.error, true);
            }
            s.done = s.done + 1;
            continue;
        }
        const fuzz::GuestCase c = fuzz::make_guest_case(seed);
        s.words += c.words;
        ++s.cpus_hist[c.cpus];
        s.ftrace_on += c.ftrace.empty() ? 0 : 1;
        auto parsed = scenario::parse_scenario_text(c.toml, file);
        if (!parsed) {
            ++s.status[2];
            count_error(s, seed, parsed.error().message);
        } else {
            const scenario::ScenarioResult r = runner.run(*parsed, scenario::RunOptions{});
            ++s.status[size_t(r.status)];
            if (r.status == scenario::Status::Error) {
                count_error(s, seed, r.message);
            }
            for (const Finding& f : r.findings) {
                count_kind(s, f.kind);
            }
        }
        s.done = s.done + 1;
    }
    std::_Exit(0);
}

void save_case(const Options& o, const char* what, uint64_t seed) {
    if (o.machine_mode) {
        fmt::print(stderr,
                   "guest_fuzz: {} in machine batch {} (rerun: --mode machine --seed {} "
                   "--count 1)\n",
                   what, seed, seed);
        return;
    }
    const std::filesystem::path p = o.out / fmt::format("{}-{}.toml", what, seed);
    std::ofstream(p) << fuzz::make_guest_case(seed).toml;
    fmt::print(stderr, "guest_fuzz: {} at seed {}: {}\n", what, seed, p.string());
}

bool parse_args(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) {
            return false;
        }
        const char* v = argv[++i];
        if (a == "--seed") {
            o.seed = std::stoull(v);
        } else if (a == "--count") {
            o.count = std::stoull(v);
        } else if (a == "--seconds") {
            o.seconds = std::stod(v);
        } else if (a == "--hang-seconds") {
            o.hang_seconds = std::stod(v);
        } else if (a == "--out") {
            o.out = v;
        } else if (a == "--mode") {
            o.machine_mode = std::string(v) == "machine";
            if (!o.machine_mode && std::string(v) != "scenario") {
                return false;
            }
        } else {
            return false;
        }
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "--print") {
        fmt::print("{}", fuzz::make_guest_case(std::stoull(argv[2])).toml);
        return 0;
    }
    Options o;
    if (!parse_args(argc, argv, o)) {
        fmt::print(stderr, "usage: klpemu_guest_fuzz [--mode scenario|machine] [--seed S] [--count "
                           "N] [--seconds T] "
                           "[--hang-seconds H] [--out DIR]\n");
        return 2;
    }
    std::filesystem::create_directories(o.out);
    void* mem =
        mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        return 2;
    }
    Shared& s = *new (mem) Shared();
    const uint64_t end = o.count == UINT64_MAX ? UINT64_MAX : o.seed + o.count;
    const auto t0 = Clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
    uint64_t next = o.seed;
    uint64_t crashes = 0, hangs = 0;
    std::map<int, uint64_t> crash_signals;
    while (next < end && (o.seconds == 0 || elapsed() < o.seconds)) {
        s.current = next;
        s.started_ms = now_ms();
        std::fflush(stdout);
        std::fflush(stderr);
        const pid_t pid = fork();
        if (pid < 0) {
            return 2;
        }
        if (pid == 0) {
            worker(s, o, next, end);
        }
        while (true) {
            int status = 0;
            const pid_t r = waitpid(pid, &status, WNOHANG);
            if (r == pid) {
                if (WIFSIGNALED(status)) {
                    ++crashes;
                    ++crash_signals[WTERMSIG(status)];
                    save_case(o, "crash", s.current.load());
                    ++s.done;
                    next = s.current + 1;
                } else {
                    next = end; // The worker finished its range.
                }
                break;
            }
            const bool out_of_time = o.seconds != 0 && elapsed() >= o.seconds;
            if (now_ms() - s.started_ms > int64_t(o.hang_seconds * 1000) || out_of_time) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                if (!out_of_time) {
                    ++hangs;
                    save_case(o, "hang", s.current.load());
                    ++s.done;
                }
                next = out_of_time ? end : s.current + 1;
                break;
            }
            usleep(20'000);
        }
    }
    const double secs = elapsed();
    fmt::print("guest_fuzz: seeds {}..{}: {} cases in {:.0f} s ({:.1f} cases/s), {} random "
               "words\n",
               o.seed, o.seed + s.done.load(), s.done.load(), secs, double(s.done.load()) / secs,
               s.words.load());
    fmt::print("cpus:");
    for (int i = 1; i <= 8; ++i) {
        fmt::print(" {}:{}", i, s.cpus_hist[i].load());
    }
    fmt::print("; ftrace on: {}\n", s.ftrace_on.load());
    if (o.machine_mode) {
        fmt::print("machine mode: {} streams ({:.0f} streams/s), {} findings, {} "
                   "undefined-instruction\n",
                   s.streams.load(), double(s.streams.load()) / secs, s.findings.load(),
                   s.undefined.load());
    }
    fmt::print("verdicts: pass {} fail {} error {} skip {}\n", s.status[0].load(),
               s.status[1].load(), s.status[2].load(), s.status[3].load());
    fmt::print("findings:");
    for (size_t i = 0; i < kKinds && s.kind_names[i][0]; ++i) {
        fmt::print(" {}={}", s.kind_names[i], s.kind_counts[i].load());
    }
    fmt::print("\n");
    for (size_t i = 0; i < kErrors && s.error_texts[i][0]; ++i) {
        fmt::print("machine error x{} (first seed {}): {}\n", s.error_counts[i].load(),
                   s.error_seeds[i].load(), s.error_texts[i]);
    }
    fmt::print("host crashes: {}", crashes);
    for (auto [sig, n] : crash_signals) {
        fmt::print(" (signal {}: {})", sig, n);
    }
    fmt::print("; hangs: {}; machine errors: {}\n", hangs, s.machine_errors.load());
    // A run that executed nothing measured nothing: random words hit unallocated encodings
    // within a few streams, so streams without one undefined-instruction finding mean the
    // slots never ran (as when they were loaded as NX data, 28b4887).
    const bool executed = !o.machine_mode || s.streams.load() == 0 || s.undefined.load() > 0;
    if (!executed) {
        fmt::print("no stream reached an undefined instruction: the streams did not execute\n");
    }
    return crashes == 0 && hangs == 0 && s.machine_errors.load() == 0 && executed ? 0 : 1;
}
