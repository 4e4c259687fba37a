// The exact cycle model (`[machine] cycles = "pipeline"`): each CPU's executed instruction
// stream is fed, one instruction at a time, to LLVM's Machine Code Analyzer library — the
// engine behind llvm-mca — running in process. The pipeline is llvm-mca's own: the in-order
// one (InOrderIssueStage) for cores whose MicroOpBufferSize is <= 1, the default out-of-order
// one (dispatch, scheduler, retire) for the rest, with llvm-mca's default options (dispatch
// width = IssueWidth, no register-file or load/store-queue limits, loads and stores assumed not
// to alias) and the same call latency llvm-mca is given by the cycle benchmark (kCallLatency).
// An IncrementalSourceMgr holds the stream; after each instruction the pipeline runs until it
// needs the next one, and the instruction is charged the cycles that completed meanwhile.
// So a straight-line stream costs exactly what llvm-mca reports for it, less the drain of the
// last instructions (llvm-mca's total also counts the cycles until the last one retires).
//
// Slower than FastPipeline (a heap-allocated mca::Instruction per executed instruction);
// meant for overhead reports and cycle questions, not for long explorations. No llvm:: type
// appears here: the LLVM objects live behind Impl in mca_pipeline.cpp.
#pragma once

#include "emu/insn_word.h"
#include "emu/result.h"

#include <cstdint>
#include <memory>
#include <string_view>

namespace klpemu {

class McaPipeline {
  public:
    // A pipeline for `core` (one of CycleModel::known_cores()).
    static Result<McaPipeline> create(std::string_view core);
    ~McaPipeline();
    McaPipeline(McaPipeline&&) noexcept;
    McaPipeline& operator=(McaPipeline&&) noexcept;

    // Feeds the instruction `w` and runs the pipeline until it asks for the next one; returns
    // the cycles that completed meanwhile. Words that do not decode, that MCA cannot be handed
    // (llvm_target::mca_can_describe) or that the core's model does not cover are fed as a NOP.
    uint64_t account(InsnWord w);
    // Cycles completed by the simulated pipeline so far.
    uint64_t total_cycles() const;

  private:
    struct Impl;
    explicit McaPipeline(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace klpemu
