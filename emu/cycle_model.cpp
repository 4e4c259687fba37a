// CycleModel (see cycle_model.h): decode with MCDisassembler, let llvm-mca's InstrBuilder build
// the instruction's InstrDesc for the core (variant sched classes resolved, resource groups
// reduced by the cycles their sub-units already account for, exactly as llvm-mca does), and
// copy what the pipelines need into a flat InsnCost. Register slots and GPR masks come from
// the register names; resource units and ReadAdvance groups are numbered per core on first use.
#include "emu/cycle_model.h"

#include "emu/llvm_target.h"
#include "emu/mca_quiet.h"

#include <llvm/ADT/ArrayRef.h>
#include <llvm/MC/MCContext.h>
#include <llvm/MC/MCDisassembler/MCDisassembler.h>
#include <llvm/MC/MCInst.h>
#include <llvm/MC/MCSchedule.h>
#include <llvm/MCA/CustomBehaviour.h>
#include <llvm/MCA/InstrBuilder.h>
#include <llvm/MCA/Support.h>
#include <llvm/Support/raw_ostream.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <map>
#include <unordered_map>
#include <vector>

namespace klpemu {

namespace {

constexpr std::string_view kKnownCores[] = {"cortex-a53", "cortex-a55",  "cortex-a57",
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

// The slot of an AArch64 register named by its TableGen record (kNoSlot for xzr, system and
// SVE registers).
uint8_t direct_slot(llvm::StringRef name) {
    for (char prefix : {'X', 'W'}) {
        if (auto n = numbered(name, prefix, 30)) {
            return uint8_t(*n);
        }
    }
    for (char prefix : {'B', 'H', 'S', 'D', 'Q'}) {
        if (auto n = numbered(name, prefix, 31)) {
            return uint8_t(32 + *n);
        }
    }
    if (name == "FP") {
        return 29;
    }
    if (name == "LR") {
        return 30;
    }
    if (name == "SP" || name == "WSP") {
        return uint8_t(kSpBit);
    }
    if (name == "NZCV") {
        return 64;
    }
    return kNoSlot;
}

uint64_t gpr_bit(uint8_t slot) {
    return slot < 32 ? uint64_t(1) << slot : 0;
}

} // namespace

struct CycleModel::Impl {
    std::string core;
    std::unique_ptr<llvm_target::McTarget> mc;
    std::unique_ptr<llvm::MCContext> ctx;
    std::unique_ptr<llvm::MCDisassembler> disasm;
    std::unique_ptr<llvm::mca::InstrumentManager> instruments;
    std::unique_ptr<llvm::mca::InstrBuilder> builder;
    // Builds the MCInsts that name a constant register (XZR/WZR), emptied before each one: see
    // builder_for(). Calls and returns naming one (`blr xzr`, `ret xzr`) have their own,
    // never emptied, so its one-time call/return warning stays spent.
    std::unique_ptr<llvm::mca::InstrBuilder> constant_builder;
    std::unique_ptr<llvm::mca::InstrBuilder> constant_branch_builder;
    std::vector<uint8_t> slot;            // Indexed by LLVM register number.
    std::vector<uint64_t> gpr_mask;       // Indexed by LLVM register number; tuples: all parts.
    std::vector<uint64_t> resource_masks; // llvm-mca's mask of each ProcResource index.
    std::vector<uint64_t> units_of_kind;  // Resource units of each ProcResource index.
    std::map<std::pair<uint64_t, unsigned>, uint8_t> pool_ids;
    std::map<std::pair<unsigned, unsigned>, uint8_t> advance_ids; // (sched class, use index).
    // Grows on first use of a pool/advance group; pipelines keep a reference.
    mutable SchedTables tables;
    // What cost() decoded, by word: a model handed from machine to machine (cycle_model_pool.h)
    // decodes each word once. Bounded; forgetting only costs a decode (ids stay in `tables`).
    static constexpr size_t kMaxMemoWords = size_t(1) << 16;
    mutable std::unordered_map<uint32_t, InsnCost> costs;

    uint8_t slot_of(unsigned reg) const { return reg < slot.size() ? slot[reg] : kNoSlot; }
    uint64_t mask_of(unsigned reg) const { return reg < gpr_mask.size() ? gpr_mask[reg] : 0; }
    uint8_t pool_for(uint64_t mca_mask, unsigned needed);
    uint8_t advance_group(unsigned sched_class, unsigned use_index);
    llvm::mca::InstrBuilder& builder_for(const llvm::MCInst& inst, const llvm::MCInstrDesc& desc);
};

// llvm-mca's InstrBuilder keeps one descriptor per opcode, made from the first MCInst it meets
// with that opcode, and that descriptor leaves out the operands that are constant registers in
// *that* MCInst: after `stur wzr, [x29, #-4]`, `stur w8, [x29, #-4]` would lose its read of w8
// (seen as cycle counts that changed with what the model had decoded before). A word's facts
// must not depend on history, so an MCInst naming XZR/WZR is built by a second builder emptied
// first, and the main builder only ever meets MCInsts without one, whose descriptors do not
// depend on their operands. (The `pipeline` accuracy runs llvm-mca's own pipeline with its own
// builder and keeps llvm-mca's behaviour.)
llvm::mca::InstrBuilder& CycleModel::Impl::builder_for(const llvm::MCInst& inst,
                                                       const llvm::MCInstrDesc& desc) {
    bool constant = false;
    for (unsigned i = 0; i < inst.getNumOperands(); ++i) {
        const llvm::MCOperand& op = inst.getOperand(i);
        constant = constant || (op.isReg() && op.getReg() != 0 && mc->mri->isConstant(op.getReg()));
    }
    if (!constant) {
        return *builder;
    }
    if (desc.isCall() || desc.isReturn()) {
        // Their only register operand is the target (x30 for RET): every such MCInst of an
        // opcode names the constant in the same place, so one descriptor fits them all.
        return *constant_branch_builder;
    }
    constant_builder->clear(); // Re-arms the call/return warning, which nothing here meets.
    return *constant_builder;
}

uint8_t CycleModel::Impl::pool_for(uint64_t mca_mask, unsigned needed) {
    const auto key = std::make_pair(mca_mask, needed);
    if (auto it = pool_ids.find(key); it != pool_ids.end()) {
        return it->second;
    }
    // A group's mask is its own leading bit plus the bits of its member kinds.
    const uint64_t members =
        std::popcount(mca_mask) > 1 ? mca_mask ^ std::bit_floor(mca_mask) : mca_mask;
    SchedTables::Pool pool;
    pool.needed = uint8_t(std::clamp(needed, 1u, 8u));
    for (size_t k = 1; k < resource_masks.size(); ++k) {
        if (std::popcount(resource_masks[k]) == 1 && (resource_masks[k] & members)) {
            pool.units |= units_of_kind[k];
        }
    }
    KLP_CHECK(pool.units != 0, "{}: resource mask {:#x} names no unit", core, mca_mask);
    KLP_CHECK(tables.pools.size() < 255, "{}: too many resource pools", core);
    tables.pools.push_back(pool);
    const auto id = uint8_t(tables.pools.size() - 1);
    pool_ids.emplace(key, id);
    return id;
}

uint8_t CycleModel::Impl::advance_group(unsigned sched_class, unsigned use_index) {
    const auto key = std::make_pair(sched_class, use_index);
    if (auto it = advance_ids.find(key); it != advance_ids.end()) {
        return it->second;
    }
    const llvm::MCSchedModel& sm = mc->sti->getSchedModel();
    const llvm::MCSchedClassDesc* sc = sm.getSchedClassDesc(sched_class);
    SchedTables::AdvanceGroup group;
    bool any_entry = false;
    for (const llvm::MCReadAdvanceEntry& e : mc->sti->getReadAdvanceEntries(*sc)) {
        if (e.UseIdx != use_index) {
            continue;
        }
        any_entry = true;
        if (e.WriteResourceID == 0) {
            group.any = int16_t(e.Cycles);
            continue;
        }
        if (group.by_writer.size() <= e.WriteResourceID) {
            group.by_writer.resize(e.WriteResourceID + 1, 0);
        }
        group.by_writer[e.WriteResourceID] = int16_t(e.Cycles);
    }
    uint8_t id = 0;
    if (any_entry) {
        // Entries without their own cycles fall back to `any`, as getReadAdvanceCycles does.
        for (auto& c : group.by_writer) {
            c = c == 0 ? group.any : c;
        }
        KLP_CHECK(tables.advance.size() < 255, "{}: too many ReadAdvance groups", core);
        tables.advance.push_back(std::move(group));
        id = uint8_t(tables.advance.size() - 1);
    }
    advance_ids.emplace(key, id);
    return id;
}

CycleModel::CycleModel(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
CycleModel::~CycleModel() = default;
CycleModel::CycleModel(CycleModel&&) noexcept = default;
CycleModel& CycleModel::operator=(CycleModel&&) noexcept = default;

std::span<const std::string_view> CycleModel::known_cores() {
    return kKnownCores;
}

const std::string& CycleModel::core() const {
    return m_impl->core;
}

const SchedTables& CycleModel::tables() const {
    return m_impl->tables;
}

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
    const llvm::MCSchedModel& sm = mc.sti->getSchedModel();
    KLP_CHECK(sm.hasInstrSchedModel(), "LLVM has no sched model for {}", core);
    impl->ctx = std::make_unique<llvm::MCContext>(mc.triple, mc.mai.get(), mc.mri.get(),
                                                  mc.sti.get(), nullptr, &mc.options);
    impl->disasm.reset(mc.target->createMCDisassembler(*mc.sti, *impl->ctx));
    KLP_CHECK(impl->disasm != nullptr, "LLVM could not build the AArch64 disassembler");
    impl->instruments = std::make_unique<llvm::mca::InstrumentManager>(*mc.sti, *mc.mii);
    impl->builder = std::make_unique<llvm::mca::InstrBuilder>(*mc.sti, *mc.mii, *mc.mri, nullptr,
                                                              *impl->instruments, kCallLatency);
    llvm_target::quiet_first_warnings(*impl->builder, *impl->disasm);
    impl->constant_builder = std::make_unique<llvm::mca::InstrBuilder>(
        *mc.sti, *mc.mii, *mc.mri, nullptr, *impl->instruments, kCallLatency);
    impl->constant_branch_builder = std::make_unique<llvm::mca::InstrBuilder>(
        *mc.sti, *mc.mii, *mc.mri, nullptr, *impl->instruments, kCallLatency);
    llvm_target::quiet_first_warnings(*impl->constant_branch_builder, *impl->disasm);

    // Register slots by name first, then register tuples by their first named part.
    const unsigned num_regs = mc.mri->getNumRegs();
    impl->slot.assign(num_regs, kNoSlot);
    impl->gpr_mask.assign(num_regs, 0);
    for (unsigned r = 1; r < num_regs; ++r) {
        impl->slot[r] = direct_slot(mc.mri->getName(r));
        impl->gpr_mask[r] = gpr_bit(impl->slot[r]);
    }
    for (unsigned r = 1; r < num_regs; ++r) {
        if (impl->slot[r] != kNoSlot) {
            continue;
        }
        for (llvm::MCPhysReg sub : mc.mri->subregs(r)) {
            const uint8_t s = direct_slot(mc.mri->getName(sub));
            impl->gpr_mask[r] |= gpr_bit(s);
            if (impl->slot[r] == kNoSlot) {
                impl->slot[r] = s;
            }
        }
    }

    // Resource units: each unit of each ProcResource kind (groups have SubUnitsIdxBegin).
    impl->resource_masks.assign(sm.getNumProcResourceKinds(), 0);
    llvm::mca::computeProcResourceMasks(sm, impl->resource_masks);
    impl->units_of_kind.assign(sm.getNumProcResourceKinds(), 0);
    unsigned units = 0;
    for (unsigned k = 1; k < sm.getNumProcResourceKinds(); ++k) {
        const llvm::MCProcResourceDesc* d = sm.getProcResource(k);
        if (d->SubUnitsIdxBegin != nullptr) {
            continue;
        }
        for (unsigned u = 0; u < d->NumUnits; ++u) {
            KLP_CHECK(units < 64, "{}: more than 64 resource units", core);
            impl->units_of_kind[k] |= uint64_t(1) << units++;
        }
    }
    SchedTables& t = impl->tables;
    t.core = impl->core;
    t.issue_width = std::max(1u, sm.IssueWidth);
    t.reorder_buffer = sm.MicroOpBufferSize;
    t.mispredict_penalty = sm.MispredictPenalty;
    t.num_units = units;
    for (unsigned c = 0; c < sm.NumSchedClasses; ++c) {
        for (const llvm::MCReadAdvanceEntry& e :
             mc.sti->getReadAdvanceEntries(*sm.getSchedClassDesc(c))) {
            if (e.Cycles < 0) {
                t.max_read_delay = std::max(t.max_read_delay, unsigned(-e.Cycles));
            }
        }
    }
    return CycleModel(std::move(impl));
}

InsnCost CycleModel::cost(InsnWord w) const {
    auto& memo = m_impl->costs;
    if (auto it = memo.find(w.raw); it != memo.end()) {
        return it->second;
    }
    if (memo.size() >= Impl::kMaxMemoWords) {
        memo.clear();
    }
    const InsnCost c = decode_cost(w);
    memo.emplace(w.raw, c);
    return c;
}

InsnCost CycleModel::decode_cost(InsnWord w) const {
    const uint8_t bytes[4] = {uint8_t(w.raw), uint8_t(w.raw >> 8), uint8_t(w.raw >> 16),
                              uint8_t(w.raw >> 24)};
    llvm::MCInst inst;
    uint64_t size = 0;
    const auto status = m_impl->disasm->getInstruction(inst, size, llvm::ArrayRef<uint8_t>(bytes),
                                                       0, llvm::nulls());
    if (status == llvm::MCDisassembler::Fail || size != 4) {
        return kUnknownInsnCost;
    }
    Impl& impl = *m_impl;
    const llvm_target::McTarget& mc = *impl.mc;
    const llvm::MCInstrDesc& desc = mc.mii->get(inst.getOpcode());

    InsnCost cost;
    // LLVM marks hints, barriers and SYS/MSR as mayLoad/mayStore (unmodelled side effects); the
    // A64 system instruction class (d5000000..d53fffff) is neither here.
    const bool system_class = (w.raw & 0xffc00000) == 0xd5000000;
    cost.is_load = desc.mayLoad() && !system_class;
    cost.is_store = desc.mayStore() && !system_class;
    constexpr uint32_t kEret = 0xd69f03e0;                         // eret
    constexpr uint32_t kBlMask = 0xfc000000, kBlBits = 0x94000000; // bl imm26
    if (w.raw == kEret) {
        cost.branch = BranchKind::None;
    } else if (desc.isReturn()) {
        cost.branch = BranchKind::Return;
    } else if (desc.isCall()) {
        cost.branch = (w.raw & kBlMask) == kBlBits ? BranchKind::Call : BranchKind::IndirectCall;
    } else if (desc.isConditionalBranch()) {
        cost.branch = BranchKind::Conditional;
    } else if (desc.isIndirectBranch()) {
        cost.branch = BranchKind::Indirect;
    } else if (desc.isBranch()) {
        cost.branch = BranchKind::Direct;
    }
    for (unsigned i = 0; i < inst.getNumOperands(); ++i) {
        const llvm::MCOperand& op = inst.getOperand(i);
        if (!op.isReg() || op.getReg() == 0) {
            continue;
        }
        const uint64_t bit = impl.mask_of(op.getReg());
        (i < desc.getNumDefs() ? cost.defs_mask : cost.uses_mask) |= bit;
    }
    for (llvm::MCPhysReg r : desc.implicit_defs()) {
        cost.defs_mask |= impl.mask_of(r);
    }
    for (llvm::MCPhysReg r : desc.implicit_uses()) {
        cost.uses_mask |= impl.mask_of(r);
    }

    // A word MCA cannot be handed (llvm_target::mca_can_describe: `tsb csync`, found by the guest
    // fuzzer) gets the no-model cost below, with its real registers.
    if (!llvm_target::mca_can_describe(*mc.mii, inst)) {
        return cost;
    }
    auto built = impl.builder_for(inst, desc).createInstruction(inst, {});
    if (!built) {
        llvm::consumeError(built.takeError());
        // No model for this instruction on this core: latency 1, one micro-op, no units.
        return cost;
    }
    const llvm::mca::Instruction& mi = **built;
    const llvm::mca::InstrDesc& id = mi.getDesc();
    cost.latency = uint16_t(std::min(id.MaxLatency, 0xffffu));
    cost.first_writeback = cost.latency;
    cost.uops = uint8_t(std::min(id.NumMicroOps, 255u));
    cost.begin_group = mi.getBeginGroup();
    cost.end_group = mi.getEndGroup();
    cost.retire_ooo = mi.getRetireOOO();
    for (const llvm::mca::WriteState& ws : mi.getDefs()) {
        cost.first_writeback =
            uint16_t(std::min<unsigned>(cost.first_writeback, std::max(0, int(ws.getLatency()))));
        const uint8_t s = impl.slot_of(ws.getRegisterID());
        if (s == kNoSlot || cost.num_writes == cost.writes.size()) {
            continue;
        }
        cost.writes[cost.num_writes++] = SchedWrite{s, uint16_t(std::min(ws.getLatency(), 0xffffu)),
                                                    uint16_t(ws.getWriteResourceID())};
    }
    for (const llvm::mca::ReadState& rs : mi.getUses()) {
        const uint8_t s = impl.slot_of(rs.getRegisterID());
        if (s == kNoSlot || cost.num_reads == cost.reads.size()) {
            continue;
        }
        const llvm::mca::ReadDescriptor& rd = rs.getDescriptor();
        cost.reads[cost.num_reads++] =
            SchedRead{s, impl.advance_group(rd.SchedClassID, rd.UseIndex)};
    }
    for (const auto& [mask, usage] : id.Resources) {
        if (usage.size() == 0 || cost.num_units == cost.units.size()) {
            continue;
        }
        cost.units[cost.num_units++] =
            SchedUnitUse{impl.pool_for(mask, usage.NumUnits),
                         uint8_t(std::clamp<unsigned>(usage.size(), 1, 255))};
    }
    return cost;
}

} // namespace klpemu
