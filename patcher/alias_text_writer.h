// Guest text writes through the FIX_TEXT_POKE0 alias (emu/text_poke_alias.h), as the kernel's
// own patching code makes them (aarch64_insn_patch_text_nosync, aarch64_insn_write_literal_u64
// in emu/guest/text_poke.S, or a user's guest code doing the same), turned into TextPoke writes:
// every word a store changes goes through TextPoke::apply with the storing CPU as the writer,
// so it gets the CMODX rule, the MOV-slot rule, the checks added to TextPoke (callops-order),
// the per-CPU visibility model and the invalidation of every CPU's translated code, exactly as
// the patch engine's own writes do. An 8-byte store to a CALL_OPS literal is data
// (TextPoke::write_literal). The old word is what memory holds: the guest made its own checks.
#pragma once

#include "emu/text_poke_alias.h"
#include "patcher/text_poke.h"

#include <functional>

namespace klpemu::patcher {

class AliasTextWriter final : public emu::TextAliasWriter {
  public:
    // `is_literal(addr)`: `addr` is a CALL_OPS literal slot. Contract: `poke` and `text`
    // outlive this object.
    AliasTextWriter(TextPoke& poke, const TextTarget& text,
                    std::function<bool(GuestAddr)> is_literal);

    Result<void> alias_store(int cpu, GuestAddr pc, GuestAddr addr, int size,
                             uint64_t value) override;

  private:
    TextPoke& m_poke;
    const TextTarget& m_text;
    std::function<bool(GuestAddr)> m_is_literal;
};

} // namespace klpemu::patcher
