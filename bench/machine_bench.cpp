// The benchmark behind `make bench` (design.md §8, bench/RESULTS.md). Two parts:
//
//  1. machine: the `calls` image run (a) with no code hook at all (raw Unicorn), (b) through the
//     machine's global code hook, (c) with a trivial observer, (d) with the reliability checker
//     (ground truth plus all four unwinder policies at every boundary): hook_over_raw and the
//     historical checked_over_raw line.
//  2. workloads (bench/workloads.h): each run plain and checked with all four policies,
//     alternating plain/checked, `--repeat` times (median); prints checked_over_raw_<name>:
//     plain time / checked time for the same guest work. "Plain" is the machine without its code
//     hook (raw Unicorn) except for the ftrace workloads, whose tracers need the hook: there it
//     is the machine with ftrace and no checker.
//
// Then peak_rss_checked_64_tasks: the peak RSS of a fresh process that ran the `tasks` workload
// checked (and peak_rss_plain_64_tasks without the checker). Prints `NAME: VALUE UNIT` lines.
#include "emu/cfi_table.h"
#include "emu/machine.h"
#include "patcher/ftrace.h"
#include "unwinder/machine_checker.h"
#include "workloads.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace klpemu;
using namespace klpemu::emu;
using klpemu::bench::RunShape;
using klpemu::bench::Workload;

namespace {

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "klpemu_bench: %s\n", message.c_str());
    std::exit(1);
}

template <typename T> T must(Result<T> r, std::string_view what) {
    if (!r) {
        die(fmt::format("{}: {}", what, r.error().message));
    }
    return std::move(*r);
}

struct Counter : ExecutionObserver {
    uint64_t n = 0;
    void on_instruction(const InsnEvent&) override { ++n; }
};

enum class Mode { Raw, Hook, Observer, Checked };

struct Timing {
    double seconds = 0;
    uint64_t instructions = 0;
};

// Runs `w` once in a fresh machine; returns the time of the guest run alone.
Timing run_once(const Workload& w, Mode mode) {
    const bool traced = !w.trace_filter.empty();
    MachineConfig cfg;
    cfg.cpus = w.cpus;
    cfg.code_hook = mode != Mode::Raw || traced;
    cfg.text_guard = mode != Mode::Raw; // raw: bare Unicorn, as before the guard
    cfg.instruction_budget = 4'000'000'000;
    auto m = must(Machine::create(cfg), "machine");
    std::unique_ptr<patcher::Ftrace> ftrace;
    if (traced) {
        ftrace = must(patcher::Ftrace::create(*m), "ftrace");
    }
    const LoadedObject obj = must(m->load_assembly(bench::workload_image(), "bench.S"), "image");
    if (ftrace) {
        if (auto r = ftrace->add_object(obj); !r) {
            die(r.error().message);
        }
        if (auto r = ftrace->apply_action(true, w.trace_filter, w.tracer); !r) {
            die(r.error().message);
        }
    }
    const GuestAddr entry = *m->symbol(w.entry);
    if (w.shape == RunShape::Tasks) {
        for (int i = 0; i < w.tasks; ++i) {
            must(m->create_task(
                     {fmt::format("t{}", i), TaskKind::Kthread, entry, {w.arg}, i % w.cpus, 1}),
                 "task");
        }
    }
    Counter counter;
    if (mode == Mode::Observer) {
        m->add_observer(&counter);
    }
    CfiTable cfi;
    std::unique_ptr<unwinder::MachineChecker> checker;
    if (mode == Mode::Checked) {
        for (const CfiSection& s : m->cfi_sections()) {
            (void)cfi.add_section(s);
        }
        checker = std::make_unique<unwinder::MachineChecker>(*m, unwinder::CheckerConfig{}, &cfi);
        if (ftrace) {
            for (int t = 0; t < m->task_count() + 1; ++t) {
                checker->set_graph_stack(t, &ftrace->graph_return_stack(t));
            }
        }
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (w.shape == RunShape::Call) {
        must(m->call(entry, {w.arg}), w.name);
    } else {
        const auto r = must(m->run(), w.name);
        if (r.reason != StopReason::AllTasksFinished) {
            die(fmt::format("{}: tasks did not finish", w.name));
        }
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (checker) {
        // Every policy checked; the ones that must be sound were.
        const unwinder::ReliabilityChecker& c = checker->checker();
        for (std::string_view p : c.policies()) {
            if (c.stats(p).checked == 0) {
                die(fmt::format("{}: {} checked nothing", w.name, p));
            }
        }
        if (c.stats("kunwind").unsound != 0 || c.stats("cfi").unsound != 0) {
            die(fmt::format("{}: unexpected checker results:\n{}", w.name, c.summary()));
        }
    }
    return Timing{std::chrono::duration<double>(t1 - t0).count(), m->instructions()};
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// The peak RSS (MiB) of a fresh process (this program again, `--rss-child MODE`) that ran the
// `tasks` workload once: nothing of this process's earlier runs counts.
double peak_rss_of_tasks(bool checked) {
    const std::string command =
        fmt::format("/proc/{}/exe --rss-child {}", getpid(), checked ? "checked" : "plain");
    FILE* child = popen(command.c_str(), "r");
    if (child == nullptr) {
        die("cannot start the RSS child");
    }
    long kib = 0;
    const bool got = std::fscanf(child, "%ld", &kib) == 1;
    if (pclose(child) != 0 || !got) {
        die("the RSS child failed");
    }
    return double(kib) / 1024.0;
}

void machine_part(int repeat) {
    Workload w = bench::workloads().front(); // calls
    w.arg = 1'000'000;
    std::vector<double> raw, hook, obs, checked;
    uint64_t insns = 0;
    for (int i = 0; i < repeat; ++i) {
        raw.push_back(run_once(w, Mode::Raw).seconds);
        const Timing h = run_once(w, Mode::Hook);
        hook.push_back(h.seconds);
        insns = h.instructions;
        obs.push_back(run_once(w, Mode::Observer).seconds);
        checked.push_back(run_once(w, Mode::Checked).seconds);
    }
    const double n = double(insns);
    fmt::print("raw_unicorn: {:.1f} Minsn/s\n", n / median(raw) / 1e6);
    fmt::print("machine_hook: {:.1f} Minsn/s\n", n / median(hook) / 1e6);
    fmt::print("machine_observer: {:.1f} Minsn/s\n", n / median(obs) / 1e6);
    fmt::print("hook_over_raw: {:.2f} ratio\n", median(raw) / median(hook));
    fmt::print("checked_all_policies: {:.1f} Minsn/s\n", n / median(checked) / 1e6);
    fmt::print("checked_over_raw: {:.3f} ratio\n", median(raw) / median(checked));
    std::fflush(stdout);
}

void usage() {
    fmt::print("usage: klpemu_bench [--workload NAME]... [--repeat N] [--no-machine] [--no-rss]\n"
               "  Runs the machine micro-benchmark and every workload (plain and checked with\n"
               "  all four unwinder policies, interleaved, median of N runs; N defaults to 5).\n"
               "  --workload NAME  only this workload (repeatable; implies --no-machine)\n"
               "  --hook-only      run only the machine part's hooked run, --repeat times (for\n"
               "                   profilers)\n"
               "  --only MODE      run the chosen workloads only `plain` or only `checked`,\n"
               "                   --repeat times, and print the instruction count (for\n"
               "                   callgrind: compare host instructions, not seconds)\n"
               "workloads:\n");
    for (const Workload& w : bench::workloads()) {
        fmt::print("  {:<12} {}\n", w.name, w.what);
    }
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> chosen;
    int repeat = 5;
    bool machine = true;
    bool rss = true;
    std::string only; // "", "plain" or "checked".
    if (argc == 3 && std::string(argv[1]) == "--rss-child") {
        run_once(bench::workloads()[4],
                 std::string(argv[2]) == "checked" ? Mode::Checked : Mode::Raw);
        struct rusage usage {};
        getrusage(RUSAGE_SELF, &usage);
        fmt::print("{}\n", usage.ru_maxrss);
        return 0;
    }
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            usage();
            return 0;
        }
        if (a == "--workload" && i + 1 < argc) {
            chosen.emplace_back(argv[++i]);
            machine = false;
        } else if (a == "--repeat" && i + 1 < argc) {
            repeat = std::max(1, std::atoi(argv[++i]));
        } else if (a == "--no-machine") {
            machine = false;
        } else if (a == "--only" && i + 1 < argc) {
            only = argv[++i];
            if (only != "plain" && only != "checked") {
                std::fprintf(stderr, "klpemu_bench: --only plain|checked\n");
                return 2;
            }
            machine = false;
            rss = false;
        } else if (a == "--no-rss") {
            rss = false;
        } else if (a == "--hook-only") {
            // For profilers: only the machine part's hook runs, nothing else.
            Workload w = bench::workloads().front();
            w.arg = 1'000'000;
            for (int r = 0; r < repeat; ++r) {
                run_once(w, Mode::Hook);
            }
            return 0;
        } else {
            std::fprintf(stderr, "klpemu_bench: unknown argument '%s' (see --help)\n", a.c_str());
            return 2;
        }
    }
    for (const std::string& name : chosen) {
        const auto& all = bench::workloads();
        if (std::none_of(all.begin(), all.end(),
                         [&](const Workload& w) { return w.name == name; })) {
            std::fprintf(stderr, "klpemu_bench: unknown workload '%s' (see --help)\n",
                         name.c_str());
            return 2;
        }
    }
    if (machine) {
        machine_part(repeat);
    }
    for (const Workload& w : bench::workloads()) {
        if (!chosen.empty() && std::find(chosen.begin(), chosen.end(), w.name) == chosen.end()) {
            continue;
        }
        const Mode plain = w.trace_filter.empty() ? Mode::Raw : Mode::Hook;
        if (!only.empty()) {
            uint64_t insns = 0;
            for (int i = 0; i < repeat; ++i) {
                insns = run_once(w, only == "plain" ? plain : Mode::Checked).instructions;
            }
            fmt::print("{}_{}: {} guest insns per run\n", only, w.name, insns);
            continue;
        }
        std::vector<double> p, c;
        uint64_t insns = 0;
        for (int i = 0; i < repeat; ++i) {
            p.push_back(run_once(w, plain).seconds);
            const Timing t = run_once(w, Mode::Checked);
            c.push_back(t.seconds);
            insns = t.instructions;
        }
        fmt::print("checked_{}: {:.2f} Minsn/s ({} insns, plain {:.1f} ms, checked {:.1f} ms)\n",
                   w.name, double(insns) / median(c) / 1e6, insns, median(p) * 1e3,
                   median(c) * 1e3);
        fmt::print("checked_over_raw_{}: {:.3f} ratio\n", w.name, median(p) / median(c));
        std::fflush(stdout);
    }
    if (rss &&
        (chosen.empty() || std::find(chosen.begin(), chosen.end(), "tasks") != chosen.end())) {
        fmt::print("peak_rss_plain_64_tasks: {:.1f} MiB\n", peak_rss_of_tasks(false));
        fmt::print("peak_rss_checked_64_tasks: {:.1f} MiB\n", peak_rss_of_tasks(true));
    }
    return 0;
}
