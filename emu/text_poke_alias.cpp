// The FIX_TEXT_POKE0 slot's mapping (see text_poke_alias.h).
#include "emu/text_poke_alias.h"

#include "emu/guest_memory.h"

namespace klpemu::emu {

GuestAddr TextPokeAlias::map(GuestAddr text) {
    m_page = text.align_down(kPageSize);
    return kTextPokeAliasBase + int64_t(text - *m_page);
}

bool TextPokeAlias::covers(uint64_t addr, int size) {
    const uint64_t begin = kTextPokeAliasBase.value;
    return addr + uint64_t(size) > begin && addr < begin + kPageSize;
}

std::optional<GuestAddr> TextPokeAlias::text_address(uint64_t alias_addr) const {
    if (!m_page || !covers(alias_addr, 1)) {
        return std::nullopt;
    }
    return *m_page + int64_t(alias_addr - kTextPokeAliasBase.value);
}

} // namespace klpemu::emu
