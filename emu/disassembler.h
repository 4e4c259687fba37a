// A64 disassembly for transcripts, `klpemu objdump`, the step REPL and findings. LLVM MC's
// AArch64 disassembler and printer produce LLVM's standard syntax ("stp x29, x30, [sp, #-16]!");
// PC-relative operands are printed as absolute guest addresses ("bl 0xffff800008000010") so a
// symbolizer can rewrite them as func+0x1c. No LLVM type appears here (pimpl).
#pragma once

#include "emu/guest_addr.h"
#include "emu/insn_word.h"
#include "emu/result.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace klpemu {

struct DecodedInsn {
    bool valid = false;
    // Mnemonic, one space, operands; ".inst 0x%08x" when the word does not decode.
    std::string text;
    // Absolute target of B, BL, B.cond, CBZ/CBNZ, TBZ/TBNZ, ADR, ADRP (page), LDR literal.
    std::optional<GuestAddr> branch_target;
};

class Disassembler {
  public:
    // A disassembler for Armv8.5-A + PAuth + BTI + LSE (the assembler's default features).
    Disassembler();
    // A disassembler for `cpu` with `features`; unknown names are errors.
    static Result<Disassembler> create(std::string_view cpu, std::string_view features);
    ~Disassembler();
    Disassembler(Disassembler&&) noexcept;
    Disassembler& operator=(Disassembler&&) noexcept;

    // Decodes one word as if it sat at `pc`; never fails (invalid words give valid=false).
    DecodedInsn decode(InsnWord w, GuestAddr pc) const;
    // True if LLVM decodes `w` (SoftFail included) for this subtarget; no printing, so it is the
    // cheap question the instruction-word guard asks (emu/insn_guard.h).
    bool decodes(InsnWord w) const;

  private:
    struct Impl;
    explicit Disassembler(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace klpemu
