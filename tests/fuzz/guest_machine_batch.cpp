// Volume mode of the guest-execution fuzzer (see guest_machine_batch.h).
#include "guest_machine_batch.h"

#include "guest_streams.h"

#include "emu/machine.h"
#include "unwinder/machine_checker.h"

#include <fmt/format.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace klpemu::fuzz {

namespace {

constexpr size_t kSlots = 8;
constexpr uint64_t kSlotBytes = 1024;
constexpr uint32_t kPrologue[] = {0xa9bf7bfd, 0x910003fd}; // stp x29, x30, [sp, #-16]!; mov x29, sp
constexpr uint32_t kEpilogue[] = {0xa8c17bfd, 0xd65f03c0}; // ldp x29, x30, [sp], #16; ret

std::vector<uint8_t> stream_bytes(Rng& rng, uint64_t& words) {
    std::vector<uint32_t> w(std::begin(kPrologue), std::end(kPrologue));
    const std::vector<uint32_t> body = random_stream(rng, 1 + rng.below(64));
    words += body.size();
    w.insert(w.end(), body.begin(), body.end());
    w.insert(w.end(), std::begin(kEpilogue), std::end(kEpilogue));
    std::vector<uint8_t> out(w.size() * 4);
    std::memcpy(out.data(), w.data(), out.size());
    return out;
}

} // namespace

BatchStats run_machine_batch(uint64_t seed, uint64_t rounds,
                             const std::function<void(uint64_t)>& heartbeat) {
    Rng rng(seed);
    BatchStats st;
    emu::MachineConfig cfg;
    cfg.cpus = 1 + int(rng.below(8));
    cfg.seed = rng.chance(50) ? 0 : 1 + rng.below(1000);
    cfg.scheduling.kind = cfg.seed ? emu::ScheduleKind::Random : emu::ScheduleKind::RoundRobin;
    cfg.scheduling.quantum = 1 + rng.below(300);
    cfg.instruction_budget = 50'000'000;
    st.cpus = cfg.cpus;
    auto made = emu::Machine::create(cfg);
    if (!made) {
        st.machine_error = true;
        st.error = made.error().message;
        return st;
    }
    emu::Machine& m = **made;
    unwinder::MachineChecker checker(m, unwinder::CheckerConfig{}, nullptr);
    // The slots are a kernel text section (RX under the strict layout), loaded like any object:
    // a region reserved by hand is data (rw-, NX), and every stream would only fault on its
    // first fetch.
    const std::string slots = fmt::format(".text\n.globl fuzz_slots\nfuzz_slots:\n"
                                          ".fill {}, 4, 0xd503201f\n",
                                          kSlots * kSlotBytes / 4);
    if (auto loaded = m.load_assembly(slots, "fuzz_slots.S"); !loaded) {
        st.machine_error = true;
        st.error = loaded.error().message;
        return st;
    }
    auto region = m.symbol("fuzz_slots");
    if (!region) {
        st.machine_error = true;
        st.error = region.error().message;
        return st;
    }
    for (uint64_t r = 0; r < rounds; ++r) {
        heartbeat(r);
        ++st.rounds;
        const uint64_t streams = 1 + rng.below(uint64_t(cfg.cpus));
        for (uint64_t i = 0; i < streams; ++i) {
            const GuestAddr slot = *region + int64_t(rng.below(kSlots) * kSlotBytes);
            const std::vector<uint8_t> bytes = stream_bytes(rng, st.words);
            if (auto w = m.write_text_bytes(slot, bytes); !w) {
                st.machine_error = true;
                st.error = w.error().message;
                return st;
            }
            emu::TaskSpec spec;
            spec.name = fmt::format("s{}.{}", r, i);
            spec.entry = slot;
            spec.cpu = int(rng.below(uint64_t(cfg.cpus)));
            for (uint64_t& a : spec.args) {
                a = rng.chance(50) ? rng.below(4096) : rng.next();
            }
            if (auto t = m.create_task(spec); !t) {
                st.machine_error = true;
                st.error = t.error().message;
                return st;
            }
            ++st.streams;
        }
        const uint64_t irqs = rng.below(4);
        for (uint64_t i = 0; i < irqs; ++i) {
            m.schedule_irq(int(rng.below(uint64_t(cfg.cpus))), m.instructions() + rng.below(400));
        }
        const size_t findings_before = m.findings().size();
        auto run = m.run(20'000);
        if (!run) {
            st.machine_error = true;
            st.error = run.error().message;
            return st;
        }
        for (size_t i = findings_before; i < m.findings().size(); ++i) {
            ++st.findings;
            st.undefined += m.findings()[i].kind == "undefined-instruction" ? 1 : 0;
        }
        if (run->reason != emu::StopReason::AllTasksFinished) {
            break; // A stream still runs (a loop): start a fresh machine.
        }
    }
    return st;
}

} // namespace klpemu::fuzz
