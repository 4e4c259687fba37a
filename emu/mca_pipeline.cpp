// McaPipeline (see mca_pipeline.h): an llvm::mca::Pipeline over an IncrementalSourceMgr. The
// source manager does not own the instructions we add (addRecycledInst only queues a pointer);
// a ring keeps the last kKept instructions alive, far more than any core keeps in flight
// (reorder buffers here are at most a few hundred micro-ops), and llvm-mca's register file drops
// its references to an instruction's writes when it retires.
#include "emu/mca_pipeline.h"

#include "emu/cycle_model.h"
#include "emu/llvm_target.h"
#include "emu/mca_quiet.h"

#include <llvm/ADT/ArrayRef.h>
#include <llvm/MC/MCContext.h>
#include <llvm/MC/MCDisassembler/MCDisassembler.h>
#include <llvm/MC/MCInst.h>
#include <llvm/MC/MCInstrAnalysis.h>
#include <llvm/MCA/Context.h>
#include <llvm/MCA/CustomBehaviour.h>
#include <llvm/MCA/HWEventListener.h>
#include <llvm/MCA/IncrementalSourceMgr.h>
#include <llvm/MCA/InstrBuilder.h>
#include <llvm/MCA/Pipeline.h>
#include <llvm/MCA/Stages/Stage.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

namespace klpemu {

namespace {

constexpr size_t kKept = 8192;
constexpr uint32_t kNop = 0xd503201f; // nop

struct CycleCounter final : llvm::mca::HWEventListener {
    uint64_t cycles = 0;
    void onCycleEnd() override { ++cycles; }
};

} // namespace

struct McaPipeline::Impl {
    std::unique_ptr<llvm_target::McTarget> mc;
    std::unique_ptr<llvm::MCContext> ctx;
    std::unique_ptr<llvm::MCDisassembler> disasm;
    std::unique_ptr<llvm::MCInstrAnalysis> analysis;
    std::unique_ptr<llvm::mca::InstrumentManager> instruments;
    std::unique_ptr<llvm::mca::InstrBuilder> builder;
    // Declared before the pipeline so that they outlive it.
    CycleCounter counter;
    std::unordered_map<uint32_t, llvm::MCInst> decoded;
    std::vector<std::unique_ptr<llvm::mca::Instruction>> kept;
    size_t next_kept = 0;
    llvm::mca::IncrementalSourceMgr source;
    std::unique_ptr<llvm::mca::CustomBehaviour> behaviour;
    std::unique_ptr<llvm::mca::Context> context;
    std::unique_ptr<llvm::mca::Pipeline> pipeline;

    const llvm::MCInst* decode(uint32_t word);
    std::unique_ptr<llvm::mca::Instruction> build(uint32_t word);
};

const llvm::MCInst* McaPipeline::Impl::decode(uint32_t word) {
    if (auto it = decoded.find(word); it != decoded.end()) {
        return &it->second;
    }
    const uint8_t bytes[4] = {uint8_t(word), uint8_t(word >> 8), uint8_t(word >> 16),
                              uint8_t(word >> 24)};
    llvm::MCInst inst;
    uint64_t size = 0;
    const auto status =
        disasm->getInstruction(inst, size, llvm::ArrayRef<uint8_t>(bytes), 0, llvm::nulls());
    if (status == llvm::MCDisassembler::Fail || size != 4) {
        return nullptr;
    }
    return &decoded.emplace(word, inst).first->second;
}

std::unique_ptr<llvm::mca::Instruction> McaPipeline::Impl::build(uint32_t word) {
    // The no-model cost here is a NOP's: for a word that does not decode, that MCA must not be
    // handed (llvm_target::mca_can_describe) or that the core's model does not cover.
    for (uint32_t w : {word, kNop}) {
        const llvm::MCInst* inst = decode(w);
        if (inst == nullptr || !llvm_target::mca_can_describe(*mc->mii, *inst)) {
            continue;
        }
        auto made = builder->createInstruction(*inst, {});
        if (made) {
            return std::move(*made);
        }
        llvm::consumeError(made.takeError());
    }
    KLP_CHECK(false, "llvm-mca cannot build a NOP for {}", mc->sti->getCPU().str());
    return nullptr;
}

McaPipeline::McaPipeline(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
McaPipeline::~McaPipeline() = default;
McaPipeline::McaPipeline(McaPipeline&&) noexcept = default;
McaPipeline& McaPipeline::operator=(McaPipeline&&) noexcept = default;

Result<McaPipeline> McaPipeline::create(std::string_view core) {
    const auto known = CycleModel::known_cores();
    if (std::find(known.begin(), known.end(), core) == known.end()) {
        return make_error("error: unknown cycle-model core '{}'", core);
    }
    auto made = llvm_target::make_mc_target(core, llvm_target::kDefaultFeatures);
    if (!made) {
        return made.error();
    }
    auto impl = std::make_unique<Impl>();
    impl->mc = std::move(*made);
    llvm_target::McTarget& mc = *impl->mc;
    impl->ctx = std::make_unique<llvm::MCContext>(mc.triple, mc.mai.get(), mc.mri.get(),
                                                  mc.sti.get(), nullptr, &mc.options);
    impl->disasm.reset(mc.target->createMCDisassembler(*mc.sti, *impl->ctx));
    KLP_CHECK(impl->disasm != nullptr, "LLVM could not build the AArch64 disassembler");
    impl->analysis.reset(mc.target->createMCInstrAnalysis(mc.mii.get()));
    impl->instruments = std::make_unique<llvm::mca::InstrumentManager>(*mc.sti, *mc.mii);
    impl->builder = std::make_unique<llvm::mca::InstrBuilder>(
        *mc.sti, *mc.mii, *mc.mri, impl->analysis.get(), *impl->instruments, kCallLatency);
    llvm_target::quiet_first_warnings(*impl->builder, *impl->disasm);
    impl->behaviour = std::make_unique<llvm::mca::CustomBehaviour>(*mc.sti, impl->source, *mc.mii);
    impl->context = std::make_unique<llvm::mca::Context>(*mc.mri, *mc.sti);
    const llvm::MCSchedModel& sm = mc.sti->getSchedModel();
    // llvm-mca's defaults: no micro-op queue or decoder limit, dispatch width = IssueWidth, no
    // register-file or load/store-queue limits, no aliasing, no bottleneck analysis.
    const llvm::mca::PipelineOptions options(0, 0, sm.IssueWidth, 0, 0, 0, true, false);
    impl->pipeline =
        sm.isOutOfOrder()
            ? impl->context->createDefaultPipeline(options, impl->source, *impl->behaviour)
            : impl->context->createInOrderPipeline(options, impl->source, *impl->behaviour);
    KLP_CHECK(impl->pipeline != nullptr, "llvm-mca built no pipeline for {}", core);
    impl->pipeline->addEventListener(&impl->counter);
    impl->kept.resize(kKept);
    return McaPipeline(std::move(impl));
}

uint64_t McaPipeline::account(InsnWord w) {
    Impl& impl = *m_impl;
    const uint64_t before = impl.counter.cycles;
    std::unique_ptr<llvm::mca::Instruction>& slot = impl.kept[impl.next_kept];
    impl.next_kept = (impl.next_kept + 1) % kKept;
    slot = impl.build(w.raw);
    impl.source.addRecycledInst(slot.get());
    auto ran = impl.pipeline->run();
    if (!ran) {
        llvm::Error rest =
            llvm::handleErrors(ran.takeError(), [](const llvm::mca::InstStreamPause&) {});
        if (rest) {
            std::string message = llvm::toString(std::move(rest));
            KLP_CHECK(false, "llvm-mca pipeline failed: {}", message);
        }
    }
    return impl.counter.cycles - before;
}

uint64_t McaPipeline::total_cycles() const {
    return m_impl->counter.cycles;
}

} // namespace klpemu
