// LLVM-backed A64 disassembler (see disassembler.h). MCDisassembler decodes, MCInstPrinter
// prints with PrintBranchImmAsAddress so PC-relative operands are absolute; the branch target
// itself comes from a64::pc_relative_target, the same pure decoder the patcher uses.
#include "emu/disassembler.h"

#include "emu/insn_encoding.h"
#include "emu/llvm_target.h"

#include <llvm/ADT/ArrayRef.h>
#include <llvm/MC/MCContext.h>
#include <llvm/MC/MCDisassembler/MCDisassembler.h>
#include <llvm/MC/MCInst.h>
#include <llvm/MC/MCInstPrinter.h>
#include <llvm/Support/raw_ostream.h>

#include <array>

namespace klpemu {

struct Disassembler::Impl {
    std::unique_ptr<llvm_target::McTarget> mc;
    std::unique_ptr<llvm::MCContext> ctx;
    std::unique_ptr<llvm::MCDisassembler> disasm;
    std::unique_ptr<llvm::MCInstPrinter> printer;
};

namespace {

// LLVM prints "\tmnemonic\toperands"; we want "mnemonic operands".
std::string normalize(const std::string& raw) {
    std::string out;
    out.reserve(raw.size());
    for (char c : raw) {
        out += c == '\t' ? ' ' : c;
    }
    const size_t first = out.find_first_not_of(' ');
    const size_t last = out.find_last_not_of(' ');
    return first == std::string::npos ? std::string() : out.substr(first, last - first + 1);
}

} // namespace

Disassembler::Disassembler(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

Disassembler::Disassembler() {
    auto made = create("generic", llvm_target::kDefaultFeatures);
    KLP_CHECK(made.ok(), "default disassembler: {}", made.error().message);
    m_impl = std::move(made->m_impl);
}

Result<Disassembler> Disassembler::create(std::string_view cpu, std::string_view features) {
    KLP_TRY_ASSIGN(made, llvm_target::make_mc_target(cpu, features));
    auto impl = std::make_unique<Impl>();
    impl->mc = std::move(made);
    llvm_target::McTarget& mc = *impl->mc;
    impl->ctx = std::make_unique<llvm::MCContext>(mc.triple, mc.mai.get(), mc.mri.get(),
                                                  mc.sti.get(), nullptr, &mc.options);
    impl->disasm.reset(mc.target->createMCDisassembler(*mc.sti, *impl->ctx));
    impl->printer.reset(mc.target->createMCInstPrinter(mc.triple, /*SyntaxVariant=*/0, *mc.mai,
                                                       *mc.mii, *mc.mri));
    KLP_CHECK(impl->disasm && impl->printer, "LLVM could not build the AArch64 disassembler");
    impl->printer->setPrintBranchImmAsAddress(true);
    return Disassembler(std::move(impl));
}

Disassembler::~Disassembler() = default;
Disassembler::Disassembler(Disassembler&&) noexcept = default;
Disassembler& Disassembler::operator=(Disassembler&&) noexcept = default;

DecodedInsn Disassembler::decode(InsnWord w, GuestAddr pc) const {
    const std::array<uint8_t, 4> bytes = {uint8_t(w.raw), uint8_t(w.raw >> 8),
                                          uint8_t(w.raw >> 16), uint8_t(w.raw >> 24)};
    llvm::MCInst inst;
    uint64_t size = 0;
    // SoftFail (a valid encoding with UNPREDICTABLE fields) still decodes, as in llvm-objdump.
    const auto status =
        m_impl->disasm->getInstruction(inst, size, llvm::ArrayRef<uint8_t>(bytes), pc.value,
                                       llvm::nulls());
    DecodedInsn out;
    if (status == llvm::MCDisassembler::Fail || size != 4) {
        out.text = fmt::format(".inst {:#010x}", w.raw);
        return out;
    }
    std::string raw;
    llvm::raw_string_ostream os(raw);
    m_impl->printer->printInst(&inst, pc.value, "", *m_impl->mc->sti, os);
    os.flush();
    out.valid = true;
    out.text = normalize(raw);
    out.branch_target = a64::pc_relative_target(pc, w);
    return out;
}

bool Disassembler::decodes(InsnWord w) const {
    const std::array<uint8_t, 4> bytes = {uint8_t(w.raw), uint8_t(w.raw >> 8), uint8_t(w.raw >> 16),
                                          uint8_t(w.raw >> 24)};
    llvm::MCInst inst;
    uint64_t size = 0;
    const auto status = m_impl->disasm->getInstruction(inst, size, llvm::ArrayRef<uint8_t>(bytes),
                                                       0, llvm::nulls());
    return status != llvm::MCDisassembler::Fail && size == 4;
}

} // namespace klpemu
