// The fuzzer's volume mode: many instruction streams through one long-lived machine, the way a
// burst of bad text writes would hit a running kernel. Each round writes 1-8 random streams
// into text slots through Machine::write_text_bytes (the path TextPoke uses: the guard
// reclassifies, every CPU's translated blocks go), starts a kthread per stream on a random
// CPU, schedules IRQs at random instruction counts and runs with a small budget, with the
// reliability checker (all policies) attached. A batch ends after its rounds or when a stream
// leaves a task running past its round (then the machine is rebuilt for the next batch).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace klpemu::fuzz {

struct BatchStats {
    int cpus = 0;
    uint64_t rounds = 0;
    uint64_t streams = 0;
    uint64_t words = 0;
    uint64_t undefined = 0; // undefined-instruction findings
    uint64_t findings = 0;  // all findings
    bool machine_error = false;
    std::string error;
};

// Runs batch `seed` (deterministic: cpus, streams and IRQ points follow from it). `heartbeat`
// is called before each round with the round index (the parent's hang watchdog).
BatchStats run_machine_batch(uint64_t seed, uint64_t rounds,
                             const std::function<void(uint64_t)>& heartbeat);

} // namespace klpemu::fuzz
