// The per-core table behind core_params() (see core_params.h). Sources:
//   cortex-a53  Arm Cortex-A53 MPCore TRM (DDI 0500): L1 I-cache 8-64 KiB, 2-way, 64-byte
//               lines (§6.1; 32 KiB configured here); 10-entry fully associative instruction
//               micro TLB, 512-entry 4-way main TLB (§5.1, §5.2).
//   cortex-a55  Arm Cortex-A55 TRM (100442): L1 I-cache 16-64 KiB, 4-way (32 KiB here);
//               15-entry instruction micro TLB (treated like the A53 otherwise).
//   cortex-a57  Arm Cortex-A57 MPCore TRM (DDI 0488): 48 KiB 3-way L1 I-cache, 48-entry
//               instruction micro TLB.
//   cortex-a72  Arm Cortex-A72 MPCore TRM (100095): 48 KiB 3-way L1 I-cache; 48-entry fully
//               associative L1 instruction TLB; 1024-entry 4-way unified L2 TLB (§5.2.3).
//   neoverse-n1 Arm Neoverse N1 TRM (100616): 64 KiB 4-way L1 I-cache; 48-entry fully
//               associative L1 instruction TLB; 1280-entry 5-way L2 TLB; private L2 with a
//               9-11 cycle load-to-use latency (Arm's N1 platform white paper).
//   neoverse-v1 Arm Neoverse V1 TRM (101427): 64 KiB 4-way L1 I-cache, 48-entry L1 I-TLB.
// Data side (same manuals): cortex-a53 L1 D-cache 8-64 KiB 4-way (32 KiB here), 10-entry data
// micro TLB; cortex-a55 16-64 KiB 4-way (32 KiB here), 16-entry L1 data TLB; cortex-a57 and
// cortex-a72 32 KiB 2-way, 32-entry fully associative L1 data TLB; neoverse-n1 and neoverse-v1
// 64 KiB 4-way, 48-entry fully associative L1 data TLB. All with 64-byte lines.
// Miss latencies: only the N1's L2 latency is published; the others are assumptions of the
// same order (an L2 hit), recorded as such in docs/machine.md.
#include "emu/core_params.h"

#include <array>

namespace klpemu {

namespace {

// Columns: core, I-cache bytes, ways, miss; I-TLB entries, miss; predictor entries, return
// stack; exception redirect; maintenance per line; D-cache bytes, ways, miss; D-TLB entries, miss.
constexpr std::array kParams = {
    CoreParams{"cortex-a53", 32 * 1024, 2, 13, 10, 4, 4096, 8, 0, 20, 32 * 1024, 4, 13, 10, 4},
    CoreParams{"cortex-a55", 32 * 1024, 4, 13, 15, 4, 4096, 8, 0, 20, 32 * 1024, 4, 13, 16, 4},
    CoreParams{"cortex-a57", 48 * 1024, 3, 15, 48, 4, 4096, 16, 0, 20, 32 * 1024, 2, 15, 32, 4},
    CoreParams{"cortex-a72", 48 * 1024, 3, 15, 48, 4, 4096, 16, 0, 20, 32 * 1024, 2, 15, 32, 4},
    CoreParams{"neoverse-n1", 64 * 1024, 4, 11, 48, 3, 4096, 16, 0, 20, 64 * 1024, 4, 11, 48, 3},
    CoreParams{"neoverse-v1", 64 * 1024, 4, 11, 48, 3, 4096, 16, 0, 20, 64 * 1024, 4, 11, 48, 3},
};

constexpr CoreParams kDefault{};

} // namespace

const CoreParams& core_params(std::string_view core) {
    for (const CoreParams& p : kParams) {
        if (p.core == core) {
            return p;
        }
    }
    return kDefault;
}

} // namespace klpemu
