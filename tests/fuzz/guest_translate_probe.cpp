// klpemu_guest_translate_probe: checks the text guard's classifier (emu/insn_guard.h) against
// the real translator. Every word the classifier lets through (WordClass::Runnable) is handed
// to Unicorn 2.0.1 for translation in a worker process: the word at a fresh address followed
// by BRK, a run that the code hook stops before the first instruction executes (so only
// QEMU's decoder sees the word). A worker killed by a signal means a word the guard would let
// through takes the process down: it is printed, and the probe fails. Words the classifier
// traps are counted, not translated (they are exits; the integration tests show that holds).
//
//   klpemu_guest_translate_probe [--space all|simd|risky] [--seed S] [--count N]
//
// Exit status: 0 if no probed word crashed the translator, 1 otherwise, 2 on bad usage.
#include "guest_streams.h"

#include "emu/insn_guard.h"
#include "emu/unicorn_backend.h"

#include <fmt/format.h>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace klpemu;
using namespace klpemu::emu;

constexpr uint64_t kBase = 0x10000000;
constexpr uint64_t kSize = 1 << 20;
constexpr uint32_t kBrk = 0xd4200000;

struct StopAtFirst final : BackendClient {
    UnicornBackend* backend = nullptr;
    void on_code(uint64_t) noexcept override { backend->stop(); }
    void on_trap(TrapKind, uint32_t) noexcept override { backend->stop(); }
    void on_mem_fault(MemAccess, bool, uint64_t, int) noexcept override {}
    void on_mem_write(uint64_t, int) noexcept override {}
    bool on_protected_write(uint64_t, int, uint64_t) noexcept override { return false; }
};

struct Shared {
    std::atomic<uint64_t> index{0};   // Next word index to probe.
    std::atomic<uint32_t> word{0};    // The word being translated.
    std::atomic<uint64_t> probed{0};  // Words translated.
    std::atomic<uint64_t> trapped{0}; // Words the classifier traps (not translated).
};

enum class Space { All, Simd, Risky };

uint32_t word_at(Space space, uint64_t seed, uint64_t index) {
    fuzz::Rng rng(seed * 0x100000001b3ULL + index);
    switch (space) {
    case Space::All:
        return uint32_t(rng.next());
    case Space::Simd:
        return (uint32_t(rng.next()) & ~0x0e000000u) | 0x0e000000u; // op0 x111
    case Space::Risky:
        return fuzz::stream_word(rng, fuzz::WordSource::RiskyGroup);
    }
    return 0;
}

[[noreturn]] void worker(Shared& s, Space space, uint64_t seed, uint64_t count) {
    StopAtFirst client;
    auto made = UnicornBackend::create(BackendOptions{}, &client);
    if (!made) {
        fmt::print(stderr, "probe: {}\n", made.error().message);
        std::_Exit(3);
    }
    UnicornBackend& b = **made;
    client.backend = &b;
    auto* mem = static_cast<uint8_t*>(
        mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (mem == MAP_FAILED || !b.map(GuestAddr(kBase), kSize, mem).ok()) {
        std::_Exit(3);
    }
    InsnClassifier classifier;
    uint64_t slot = 0;
    for (uint64_t i = s.index; i < count; ++i) {
        s.index = i;
        const uint32_t w = word_at(space, seed, i);
        if (classifier.traps(InsnWord(w))) {
            ++s.trapped;
            continue;
        }
        if (slot + 8 > kSize) {
            for (uint64_t p = 0; p < kSize; p += 4096) {
                (void)b.remove_cache(GuestAddr(kBase + p), GuestAddr(kBase + p + 4096));
            }
            slot = 0;
        }
        std::memcpy(mem + slot, &w, 4);
        std::memcpy(mem + slot + 4, &kBrk, 4);
        s.word = w;
        (void)b.run(GuestAddr(kBase + slot));
        slot += 8;
        ++s.probed;
    }
    s.index = count;
    std::_Exit(0);
}

} // namespace

int main(int argc, char** argv) {
    Space space = Space::All;
    uint64_t seed = 1, count = 100000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--space") {
            space = v == "simd" ? Space::Simd : v == "risky" ? Space::Risky : Space::All;
        } else if (a == "--seed") {
            seed = std::stoull(v);
        } else if (a == "--count") {
            count = std::stoull(v);
        } else {
            fmt::print(stderr, "usage: klpemu_guest_translate_probe [--space all|simd|risky] "
                               "[--seed S] [--count N]\n");
            return 2;
        }
    }
    void* m =
        mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    Shared& s = *new (m) Shared();
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<uint32_t> crashes;
    while (s.index < count) {
        std::fflush(stdout);
        const pid_t pid = fork();
        if (pid == 0) {
            // The translator's abort message goes to stderr; keep the probe's output readable.
            std::freopen("/dev/null", "w", stderr);
            worker(s, space, seed, count);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) {
            crashes.push_back(s.word.load());
            fmt::print("translator crash (signal {}) on runnable word {:#010x}\n", WTERMSIG(status),
                       s.word.load());
            s.index = s.index + 1;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            return 2;
        }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("probe: {} words, {} trapped by the guard, {} translated ({:.0f}/s), {} crashed\n",
               count, s.trapped.load(), s.probed.load(), double(s.probed.load()) / secs,
               crashes.size());
    return crashes.empty() ? 0 : 1;
}
