// See stack_bottoms.h.
#include "unwinder/stack_bottoms.h"

#include "unwinder/branch_class.h"

namespace klpemu::unwinder {

void collect_call_returns(const SymbolTable& symbols, const MemoryReader& memory,
                          std::string_view name, std::vector<GuestAddr>& out) {
    const std::optional<Symbol> f = symbols.lookup(name);
    if (!f) {
        return;
    }
    for (uint64_t off = 0; off + 4 <= f->size; off += 4) {
        const GuestAddr pc = f->addr + int64_t(off);
        const std::optional<uint64_t> v = memory.read_u64(pc);
        if (!v) {
            continue;
        }
        if (classify(pc, InsnWord(uint32_t(*v))).kind == BranchKind::Call) {
            out.push_back(pc + 4);
        }
    }
}

std::vector<GuestAddr> bottom_return_addresses(const SymbolTable& symbols,
                                               const MemoryReader& memory) {
    std::vector<GuestAddr> out;
    for (const std::string_view name : kBottomFunctions) {
        collect_call_returns(symbols, memory, name, out);
    }
    return out;
}

} // namespace klpemu::unwinder
