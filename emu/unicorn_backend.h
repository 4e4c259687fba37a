// The one class that wraps Unicorn 2.0.1 (style.md §3). It owns one uc_engine per CPU, sets the
// CPU model to "max" (LSE atomics, PAuth and BTI decode), installs the global code hook before
// the first run and never removes it (count=1 stepping is unreliable once blocks are translated,
// reference/unicorn-and-peers.md §1.2), turns traps and faults into calls on a BackendClient,
// and converts every uc_err in one helper. No Unicorn type appears in this header.
#pragma once

#include "emu/cpu_state.h"
#include "emu/fp_state.h"
#include "emu/guest_addr.h"
#include "emu/result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace klpemu::emu {

// What Unicorn's UC_HOOK_INTR reported (the syndrome is not readable on 2.0.1: the client
// decodes the instruction at PC itself).
enum class TrapKind {
    Breakpoint, // BRK #imm: PC is the BRK.
    Undefined,  // UDEF; HVC traps this way too (SCR_EL3.HCE=0): PC is the instruction.
    Syscall,    // SVC: PC is the next instruction.
    Other,
};

enum class MemAccess { Read, Write, Fetch };

// Receives a CPU's events. Every callback runs inside Unicorn and must not throw; it records what
// it needs and calls UnicornBackend::stop() when the driver has to act.
class BackendClient {
  public:
    virtual void on_code(uint64_t pc) noexcept = 0;
    // A trap, PC at the trapping instruction. Either call stop() (the run ends there) or move
    // PC with set_pc/set_state: emulation then goes on at the new PC within the same run. Both
    // at once also works: the run ends and the new PC is in place when run() returns (a PC
    // write is held until the callback returns, see unicorn_backend.cpp).
    virtual void on_trap(TrapKind kind, uint32_t intno) noexcept = 0;
    // An access to unmapped memory (or a protection fault when !unmapped). Emulation stops.
    virtual void on_mem_fault(MemAccess access, bool unmapped, uint64_t addr, int size) noexcept = 0;
    virtual void on_mem_write(uint64_t addr, int size) noexcept = 0;
    // Every guest load and store (only if BackendOptions::data_access_hook).
    virtual void on_data_access(uint64_t /*addr*/, int /*size*/, bool /*store*/) noexcept {}
    // A store of `size` bytes of `value` at `addr` into a page the guest may not write, before
    // it happens. Returns true to let it complete (the FIX_TEXT_POKE0 alias: a text write);
    // false makes it the protection fault on_mem_fault then reports.
    virtual bool on_protected_write(uint64_t addr, int size, uint64_t value) noexcept = 0;

  protected:
    ~BackendClient() = default;
};

struct BackendOptions {
    bool code_hook = true;        // The global UC_HOOK_CODE; off only for the raw-speed bench.
    bool mem_write_hook = false;  // UC_HOOK_MEM_WRITE, decided at creation, never added later.
    bool data_access_hook = false; // UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE for the data side.
};

enum class SysReg { ElrEl1, SpsrEl1 };

class UnicornBackend {
  public:
    // Opens an ARM64 instance with the max CPU model and installs the hooks `options` asks for.
    static Result<std::unique_ptr<UnicornBackend>> create(const BackendOptions& options,
                                                          BackendClient* client);
    ~UnicornBackend();
    UnicornBackend(const UnicornBackend&) = delete;
    UnicornBackend& operator=(const UnicornBackend&) = delete;

    // Replaces the set of exit addresses: the translator ends a block *before* fetching the word
    // at an exit and emulation stops with PC there, the word never decoded (the text guard).
    // Blocks translated before the change keep their old exits: remove_cache them.
    Result<void> set_exits(std::span<const uint64_t> exits) noexcept;

    // Maps host memory `host` (page aligned, owned by the caller) at `base` with `perms`
    // (UC_PROT_* bits: 1 read, 2 write, 4 exec).
    Result<void> map(GuestAddr base, uint64_t size, uint8_t* host, uint32_t perms = 7);

    // Changes the permissions of mapped pages [base, base + size) (page aligned). Host writes
    // to the memory are unaffected; guest accesses the permissions forbid fault.
    Result<void> protect(GuestAddr base, uint64_t size, uint32_t perms);

    // Runs from `pc` until a callback calls stop() or a fault ends emulation. Never with count>0.
    Result<void> run(GuestAddr pc);

    // Asks the running instance to stop before the instruction whose hook is running (inside
    // the trap callback: at the trapping instruction, never lost to a PC write).
    void stop() noexcept;

    // Invalidates translated blocks in [begin, end); the range must lie within one 4 KiB page.
    Result<void> remove_cache(GuestAddr begin, GuestAddr end) noexcept;

    uint64_t pc() const;
    // Sets PC; inside a code hook this makes Unicorn retranslate from the new PC.
    void set_pc(uint64_t pc) noexcept;
    uint64_t x(int index) const;
    void set_x(int index, uint64_t value);
    uint64_t sp() const;
    void set_sp(uint64_t value);
    uint64_t pstate() const;

    // Batch register access (one uc_reg_*_batch call each).
    CpuState state() const;
    // sp, x29 and x30 only: what a per-instruction unwinder check needs.
    FrameRegs frame_regs() const;
    // How many times the host wrote a register that may be sp, x29 or x30 of this CPU (set_x of
    // those, set_state, set_sysreg; not set_pc, another x or the FP state): a reader that caches
    // them between instructions compares it to notice host writes. A host call that only sets
    // x0 and the pc leaves it alone.
    uint64_t frame_register_writes() const { return m_frame_register_writes; }
    // Writes x0-x30, sp, pc and NZCV (the mode bits are left alone: API writes of PSTATE do
    // not rebuild hflags on 2.0.1, reference §1.7).
    void set_state(const CpuState& state);
    // v0-v31 (Q0-Q31), FPSR and FPCR, read and written in one batch call each.
    FpState fp_state() const;
    void set_fp_state(const FpState& state);

    uint64_t sysreg(SysReg reg) const;
    void set_sysreg(SysReg reg, uint64_t value);

  private:
    UnicornBackend() = default;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    uint64_t m_frame_register_writes = 0;
};

} // namespace klpemu::emu
