// Which guest bytes an A64 load instruction reads, computed before it executes from its
// encoding and the registers it will see: the step debugger's read and access watchpoints
// (gdb's Z3/Z4) stop after a load that touched a watched range. The decode follows the Arm ARM's
// "Loads and Stores" encoding groups (C4.1.66): unsigned-offset, unscaled, pre/post-indexed
// and register-offset LDR*/LDUR*, LDP/LDPSW/LDNP, LDR (literal), and the exclusive and
// acquire forms (LDXR, LDAXR, LDAR, LDXP...), general-purpose and SIMD&FP alike. Anything
// else (stores, atomics, prefetches, LD1 structure loads) is not a read here.
#pragma once

#include "emu/guest_addr.h"
#include "emu/insn_word.h"

#include <cstdint>
#include <functional>
#include <optional>

namespace klpemu::scenario {

struct LoadAccess {
    GuestAddr addr;
    uint64_t size = 0;
};

// `x(n)` reads register n (0..30; 31 = sp) as the instruction will see it.
std::optional<LoadAccess> load_access(GuestAddr pc, InsnWord word,
                                      const std::function<uint64_t(unsigned)>& x);

} // namespace klpemu::scenario
