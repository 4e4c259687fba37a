// Per-core parameters for what llvm-mca does not model: the branch predictor, the L1
// instruction cache and instruction TLB, the L1 data cache and data TLB, exception entry/return,
// and the text-patching sequence. Structure sizes come from the cores' Technical Reference Manuals
// (cited per core in core_params.cpp and docs/machine.md); the branch misprediction penalty is the
// scheduling model's own MispredictPenalty; miss latencies that no TRM states are marked as
// assumptions.
#pragma once

#include <cstdint>
#include <string_view>

namespace klpemu {

struct CoreParams {
    std::string_view core;
    // L1 instruction cache (64-byte lines, LRU within a set).
    unsigned icache_bytes = 32 * 1024;
    unsigned icache_ways = 2;
    unsigned icache_miss_cycles = 12; // Refill from L2 (assumed unless cited).
    // L1 instruction TLB (fully associative, 4 KiB pages, LRU).
    unsigned itlb_entries = 10;
    unsigned itlb_miss_cycles = 4; // Hit in the unified main/L2 TLB (assumed unless cited).
    // Branch prediction: bimodal 2-bit counters, a return stack, a last-target indirect
    // predictor. The core's real predictors are larger and smarter; these are floors.
    unsigned predictor_entries = 4096;
    unsigned return_stack = 8;
    // Exception entry and ERET are context-synchronising: the pipeline drains and the front end
    // restarts at the vector / ELR, which the models charge as a drain plus this many cycles.
    unsigned exception_redirect = 0; // 0: the scheduling model's MispredictPenalty.
    // Text patching (aarch64_insn_patch_text_nosync): cycles per 64-byte line for the cache
    // maintenance (DC CVAU + IC IVAU) beyond the barriers' drains (assumed).
    unsigned cache_maintenance_cycles = 20;
    // L1 data cache (64-byte lines, LRU within a set) and L1 data TLB (fully associative, 4 KiB
    // pages, LRU), used only when the machine models the data side (MachineConfig::data_cache).
    unsigned dcache_bytes = 32 * 1024;
    unsigned dcache_ways = 4;
    unsigned dcache_miss_cycles = 13; // Refill from L2 (assumed unless cited).
    unsigned dtlb_entries = 10;
    unsigned dtlb_miss_cycles = 4; // Hit in the unified main/L2 TLB (assumed unless cited).
};

// The parameters of `core` (one of CycleModel::known_cores(); others get the defaults above).
const CoreParams& core_params(std::string_view core);

} // namespace klpemu
