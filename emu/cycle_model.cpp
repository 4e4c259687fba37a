// CycleModel and InOrderPipeline (see cycle_model.h): decode with MCDisassembler, look the
// opcode's sched class up in the core's MCSchedModel, resolve variant classes through the
// subtarget, and read latency and resource occupancy; register masks come from MCInstrDesc.
#include "emu/cycle_model.h"

#include "emu/llvm_target.h"

#include <llvm/ADT/ArrayRef.h>
#include <llvm/MC/MCContext.h>
#include <llvm/MC/MCDisassembler/MCDisassembler.h>
#include <llvm/MC/MCInst.h>
#include <llvm/MC/MCSchedule.h>
#include <llvm/Support/raw_ostream.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <vector>

namespace klpemu {

namespace {

constexpr std::string_view kKnownCores[] = {"cortex-a53", "cortex-a55", "cortex-a57",
                                            "cortex-a72", "neoverse-n1", "neoverse-v1"};

// Parses "X12" / "W7" style names into a register number in [0, max].
std::optional<unsigned> numbered(llvm::StringRef name, char prefix, unsigned max) {
    if (name.size() < 2 || name[0] != prefix) {
        return std::nullopt;
    }
    unsigned n = 0;
    const char* begin = name.data() + 1;
    const char* end = name.data() + name.size();
    const auto [ptr, ec] = std::from_chars(begin, end, n);
    if (ec != std::errc() || ptr != end || n > max) {
        return std::nullopt;
    }
    return n;
}

// The InsnCost bit of an AArch64 register named by its TableGen record, if it is a GPR.
uint64_t direct_gpr_mask(llvm::StringRef name) {
    if (auto n = numbered(name, 'X', 30)) {
        return uint64_t(1) << *n;
    }
    if (auto n = numbered(name, 'W', 30)) {
        return uint64_t(1) << *n;
    }
    if (name == "FP") {
        return uint64_t(1) << 29;
    }
    if (name == "LR") {
        return uint64_t(1) << 30;
    }
    if (name == "SP" || name == "WSP") {
        return uint64_t(1) << kSpBit;
    }
    return 0;
}

} // namespace

struct CycleModel::Impl {
    std::string core;
    std::unique_ptr<llvm_target::McTarget> mc;
    std::unique_ptr<llvm::MCContext> ctx;
    std::unique_ptr<llvm::MCDisassembler> disasm;
    std::vector<uint64_t> gpr_mask; // Indexed by LLVM register number.

    uint64_t mask_of(unsigned reg) const { return reg < gpr_mask.size() ? gpr_mask[reg] : 0; }
};

CycleModel::CycleModel(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
CycleModel::~CycleModel() = default;
CycleModel::CycleModel(CycleModel&&) noexcept = default;
CycleModel& CycleModel::operator=(CycleModel&&) noexcept = default;

std::span<const std::string_view> CycleModel::known_cores() { return kKnownCores; }

const std::string& CycleModel::core() const { return m_impl->core; }

Result<CycleModel> CycleModel::create(std::string_view core) {
    if (std::find(std::begin(kKnownCores), std::end(kKnownCores), core) == std::end(kKnownCores)) {
        return make_error("error: unknown cycle-model core '{}' (known: {})", core,
                          fmt::join(kKnownCores, ", "));
    }
    // The decode features are the assembler's, whatever the core implements, so that every
    // word klpemu can assemble also gets registers and a cost.
    KLP_TRY_ASSIGN(made, llvm_target::make_mc_target(core, llvm_target::kDefaultFeatures));
    auto impl = std::make_unique<Impl>();
    impl->core = std::string(core);
    impl->mc = std::move(made);
    llvm_target::McTarget& mc = *impl->mc;
    KLP_CHECK(mc.sti->getSchedModel().hasInstrSchedModel(), "LLVM has no sched model for {}",
              core);
    impl->ctx = std::make_unique<llvm::MCContext>(mc.triple, mc.mai.get(), mc.mri.get(),
                                                  mc.sti.get(), nullptr, &mc.options);
    impl->disasm.reset(mc.target->createMCDisassembler(*mc.sti, *impl->ctx));
    KLP_CHECK(impl->disasm != nullptr, "LLVM could not build the AArch64 disassembler");

    // GPRs by name first, then register tuples (CASP pairs) as the union of their parts.
    const unsigned num_regs = mc.mri->getNumRegs();
    impl->gpr_mask.assign(num_regs, 0);
    for (unsigned r = 1; r < num_regs; ++r) {
        impl->gpr_mask[r] = direct_gpr_mask(mc.mri->getName(r));
    }
    for (unsigned r = 1; r < num_regs; ++r) {
        if (impl->gpr_mask[r] != 0) {
            continue;
        }
        uint64_t mask = 0;
        for (llvm::MCPhysReg sub : mc.mri->subregs(r)) {
            mask |= direct_gpr_mask(mc.mri->getName(sub));
        }
        impl->gpr_mask[r] = mask;
    }
    return CycleModel(std::move(impl));
}

InsnCost CycleModel::cost(InsnWord w) const {
    const uint8_t bytes[4] = {uint8_t(w.raw), uint8_t(w.raw >> 8), uint8_t(w.raw >> 16),
                              uint8_t(w.raw >> 24)};
    llvm::MCInst inst;
    uint64_t size = 0;
    const auto status = m_impl->disasm->getInstruction(inst, size, llvm::ArrayRef<uint8_t>(bytes),
                                                       0, llvm::nulls());
    if (status == llvm::MCDisassembler::Fail || size != 4) {
        return kUnknownInsnCost;
    }
    const llvm_target::McTarget& mc = *m_impl->mc;
    const llvm::MCInstrDesc& desc = mc.mii->get(inst.getOpcode());

    InsnCost cost;
    // LLVM marks hints, barriers and SYS/MSR as mayLoad (unmodelled side effects); the A64
    // system instruction class (d5000000..d53fffff) is never a load here.
    const bool system_class = (w.raw & 0xffc00000) == 0xd5000000;
    cost.is_load = desc.mayLoad() && !system_class;
    // Def number d (explicit defs first, then implicit ones, as llvm-mca counts them) and the
    // register it writes; the per-def latency is looked up once the sched class is known.
    std::vector<std::pair<unsigned, uint64_t>> defs;
    for (unsigned i = 0; i < inst.getNumOperands(); ++i) {
        const llvm::MCOperand& op = inst.getOperand(i);
        if (!op.isReg() || op.getReg() == 0) {
            continue;
        }
        if (i < desc.getNumDefs()) {
            defs.emplace_back(i, m_impl->mask_of(op.getReg()));
            cost.defs_mask |= m_impl->mask_of(op.getReg());
        } else {
            cost.uses_mask |= m_impl->mask_of(op.getReg());
        }
    }
    unsigned def_index = desc.getNumDefs();
    for (llvm::MCPhysReg r : desc.implicit_defs()) {
        defs.emplace_back(def_index++, m_impl->mask_of(r));
        cost.defs_mask |= m_impl->mask_of(r);
    }
    for (llvm::MCPhysReg r : desc.implicit_uses()) {
        cost.uses_mask |= m_impl->mask_of(r);
    }

    const llvm::MCSchedModel& sm = mc.sti->getSchedModel();
    unsigned sched_class = desc.getSchedClass();
    const llvm::MCSchedClassDesc* sc = sm.getSchedClassDesc(sched_class);
    for (int depth = 0; sc != nullptr && sc->isValid() && sc->isVariant() && depth < 8; ++depth) {
        sched_class = mc.sti->resolveVariantSchedClass(sched_class, &inst, mc.mii.get(),
                                                       sm.getProcessorID());
        sc = sched_class == 0 ? nullptr : sm.getSchedClassDesc(sched_class);
    }
    if (sc == nullptr || !sc->isValid() || sc->isVariant()) {
        return cost; // No model for this instruction on this core: latency 1, issue 1.
    }
    const int latency = llvm::MCSchedModel::computeInstrLatency(*mc.sti, *sc);
    cost.latency = uint16_t(std::clamp(latency, 1, 0xffff));
    unsigned busiest = 1;
    for (auto* e = mc.sti->getWriteProcResBegin(sc); e != mc.sti->getWriteProcResEnd(sc); ++e) {
        busiest = std::max<unsigned>(busiest, e->ReleaseAtCycle);
    }
    cost.issue_cycles = uint16_t(std::min<unsigned>(busiest, 0xffff));
    for (const auto& [index, mask] : defs) {
        if (index < sc->NumWriteLatencyEntries &&
            mc.sti->getWriteLatencyEntry(sc, index)->Cycles <= 1) {
            cost.fast_defs_mask |= mask;
        }
    }
    return cost;
}

uint64_t InOrderPipeline::account(const InsnCost& cost) {
    // Runs once per guest instruction on the machine's hot path: visit only the set bits of the
    // register masks (usually one to three) instead of all 32.
    const uint64_t before = m_next_issue;
    uint64_t issue = m_next_issue;
    for (uint64_t uses = cost.uses_mask & 0xffffffffULL; uses != 0; uses &= uses - 1) {
        issue = std::max(issue, m_ready[unsigned(std::countr_zero(uses))]);
    }
    for (uint64_t defs = cost.defs_mask & 0xffffffffULL; defs != 0; defs &= defs - 1) {
        const unsigned r = unsigned(std::countr_zero(defs));
        m_ready[r] = issue + (((cost.fast_defs_mask >> r) & 1) ? 1 : cost.latency);
    }
    m_next_issue = issue + std::max<uint16_t>(cost.issue_cycles, 1);
    return m_next_issue - before;
}

} // namespace klpemu
