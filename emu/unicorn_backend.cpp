// Unicorn 2.0.1 behind one class (see unicorn_backend.h). The traps that shape this file are in
// reference/unicorn-and-peers.md §1: hooks are installed right after uc_open and never change
// (a hook added after translation does not fire on translated code); emulation is never started
// with count>0 (it would add Unicorn's own code hook and flush every block when removed); the
// code hook makes PC exact inside memory hooks; HVC and BRK arrive as UC_HOOK_INTR with PC at
// the instruction; uc_mem_write never invalidates translated blocks, so remove_cache exists.
#include "emu/unicorn_backend.h"

#include <unicorn/unicorn.h>

#include <optional>

namespace klpemu::emu {

namespace {

// The one place a uc_err becomes a klpemu Error.
Result<void> check_uc(uc_err err, const char* what) {
    if (err == UC_ERR_OK) {
        return {};
    }
    return make_error("unicorn: {}: {} (uc_err {})", what, uc_strerror(err), int(err));
}

void must(uc_err err, const char* what) {
    KLP_CHECK(err == UC_ERR_OK, "unicorn: {}: {}", what, uc_strerror(err));
}

constexpr uint32_t kExcpUdef = 1; // QEMU EXCP_UDEF
constexpr uint32_t kExcpSwi = 2;  // QEMU EXCP_SWI
constexpr uint32_t kExcpBkpt = 7; // QEMU EXCP_BKPT

// Register ids in CpuState order: x0..x28, x29, x30, sp, pc, pstate.
int reg_id(int index) {
    if (index <= 28) {
        return UC_ARM64_REG_X0 + index;
    }
    switch (index) {
    case 29: return UC_ARM64_REG_X29;
    case 30: return UC_ARM64_REG_X30;
    case 31: return UC_ARM64_REG_SP;
    case 32: return UC_ARM64_REG_PC;
    case 33: return UC_ARM64_REG_PSTATE;
    default: KLP_UNREACHABLE("register index {}", index);
    }
}

uc_arm64_cp_reg cp_reg(SysReg reg) {
    // op0=3 op1=0 CRn=4 CRm=0: op2=0 SPSR_EL1, op2=1 ELR_EL1.
    uc_arm64_cp_reg r{};
    r.crn = 4;
    r.crm = 0;
    r.op0 = 3;
    r.op1 = 0;
    r.op2 = reg == SysReg::ElrEl1 ? 1 : 0;
    return r;
}

} // namespace

struct UnicornBackend::Impl {
    uc_engine* uc = nullptr;
    BackendClient* client = nullptr;
    // Inside the trap callback: a PC write is held here instead of reaching Unicorn, because
    // on 2.0.1 a PC write inside a hook makes the emulation loop drop a uc_emu_stop of the same
    // callback (it sets quit_request, which clears stop_request). When the callback returns,
    // the PC is written and emulation goes on there, unless the client called stop(): then the
    // run ends with PC still at the trapping instruction and run() writes the held PC.
    bool in_trap = false;
    bool stopped_in_trap = false;
    std::optional<uint64_t> held_pc;

    void write_pc(uint64_t pc) noexcept { uc_reg_write(uc, UC_ARM64_REG_PC, &pc); }

    static void code_cb(uc_engine*, uint64_t address, uint32_t, void* user) noexcept {
        static_cast<BackendClient*>(user)->on_code(address);
    }
    static void intr_cb(uc_engine*, uint32_t intno, void* user) noexcept {
        auto* impl = static_cast<Impl*>(user);
        TrapKind kind = TrapKind::Other;
        if (intno == kExcpBkpt) {
            kind = TrapKind::Breakpoint;
        } else if (intno == kExcpUdef) {
            kind = TrapKind::Undefined;
        } else if (intno == kExcpSwi) {
            kind = TrapKind::Syscall;
        }
        impl->in_trap = true;
        impl->stopped_in_trap = false;
        impl->client->on_trap(kind, intno);
        impl->in_trap = false;
        if (impl->held_pc && !impl->stopped_in_trap) {
            impl->write_pc(*impl->held_pc); // Emulation continues there, in this run.
            impl->held_pc.reset();
        }
    }
    static bool fault_cb(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t value,
                         void* user) noexcept {
        auto* client = static_cast<BackendClient*>(user);
        // Unicorn 2.0.1 calls this before the store and completes the store if it returns true.
        if (type == UC_MEM_WRITE_PROT && client->on_protected_write(address, size, uint64_t(value))) {
            return true;
        }
        MemAccess access = MemAccess::Read;
        bool unmapped = true;
        switch (type) {
        case UC_MEM_WRITE_UNMAPPED: access = MemAccess::Write; break;
        case UC_MEM_FETCH_UNMAPPED: access = MemAccess::Fetch; break;
        case UC_MEM_READ_PROT: unmapped = false; break;
        case UC_MEM_WRITE_PROT: access = MemAccess::Write; unmapped = false; break;
        case UC_MEM_FETCH_PROT: access = MemAccess::Fetch; unmapped = false; break;
        default: break;
        }
        client->on_mem_fault(access, unmapped, address, size);
        return false; // Not handled: Unicorn stops with an error the driver expects.
    }
    static void write_cb(uc_engine*, uc_mem_type, uint64_t address, int size, int64_t,
                         void* user) noexcept {
        static_cast<BackendClient*>(user)->on_mem_write(address, size);
    }

    static void data_cb(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t,
                        void* user) noexcept {
        static_cast<BackendClient*>(user)->on_data_access(address, size, type == UC_MEM_WRITE);
    }

    ~Impl() {
        if (uc) {
            uc_close(uc);
        }
    }
};

Result<std::unique_ptr<UnicornBackend>> UnicornBackend::create(const BackendOptions& options,
                                                               BackendClient* client) {
    std::unique_ptr<UnicornBackend> b(new UnicornBackend());
    b->m_impl = std::make_unique<Impl>();
    Impl& impl = *b->m_impl;
    impl.client = client;
    KLP_TRY(check_uc(uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &impl.uc), "uc_open"));
    KLP_TRY(check_uc(uc_ctl_set_cpu_model(impl.uc, UC_CPU_ARM64_MAX), "set cpu model max"));
    uc_hook h{};
    if (options.code_hook) {
        // begin=1, end=0: every address.
        KLP_TRY(check_uc(uc_hook_add(impl.uc, &h, UC_HOOK_CODE, reinterpret_cast<void*>(&Impl::code_cb),
                                     client, 1, 0),
                         "add code hook"));
    }
    KLP_TRY(check_uc(uc_hook_add(impl.uc, &h, UC_HOOK_INTR, reinterpret_cast<void*>(&Impl::intr_cb),
                                 &impl, 1, 0),
                     "add intr hook"));
    KLP_TRY(check_uc(uc_hook_add(impl.uc, &h, UC_HOOK_MEM_UNMAPPED | UC_HOOK_MEM_PROT,
                                 reinterpret_cast<void*>(&Impl::fault_cb), client, 1, 0),
                     "add fault hook"));
    if (options.mem_write_hook) {
        KLP_TRY(check_uc(uc_hook_add(impl.uc, &h, UC_HOOK_MEM_WRITE,
                                     reinterpret_cast<void*>(&Impl::write_cb), client, 1, 0),
                         "add write hook"));
    }
    if (options.data_access_hook) {
        KLP_TRY(check_uc(uc_hook_add(impl.uc, &h, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
                                     reinterpret_cast<void*>(&Impl::data_cb), client, 1, 0),
                         "add data access hook"));
    }
    // Exits replace uc_emu_start's `until`; the set starts empty (set_exits fills it).
    KLP_TRY(check_uc(uc_ctl_exits_enable(impl.uc), "enable exits"));
    return b;
}

UnicornBackend::~UnicornBackend() = default;

Result<void> UnicornBackend::set_exits(std::span<const uint64_t> exits) noexcept {
    // uc_ctl takes a non-const buffer but only reads it.
    return check_uc(uc_ctl_set_exits(m_impl->uc, const_cast<uint64_t*>(exits.data()), exits.size()),
                    "set exits");
}

Result<void> UnicornBackend::map(GuestAddr base, uint64_t size, uint8_t* host, uint32_t perms) {
    static_assert(UC_PROT_READ == 1 && UC_PROT_WRITE == 2 && UC_PROT_EXEC == 4);
    return check_uc(uc_mem_map_ptr(m_impl->uc, base.value, size, perms, host), "uc_mem_map_ptr");
}

Result<void> UnicornBackend::protect(GuestAddr base, uint64_t size, uint32_t perms) {
    return check_uc(uc_mem_protect(m_impl->uc, base.value, size, perms), "uc_mem_protect");
}

Result<void> UnicornBackend::run(GuestAddr pc) {
    // Exits are on (set_exits), so `until` is ignored: a stop(), a fault or an exit ends the run.
    const uc_err err = uc_emu_start(m_impl->uc, pc.value, 1, 0, 0);
    if (m_impl->held_pc) {
        // The trap callback that ended the run wrote PC (see Impl::held_pc).
        m_impl->write_pc(*m_impl->held_pc);
        m_impl->held_pc.reset();
    }
    return check_uc(err, "uc_emu_start");
}

void UnicornBackend::stop() noexcept {
    if (m_impl->in_trap) {
        m_impl->stopped_in_trap = true;
    }
    uc_emu_stop(m_impl->uc);
}

Result<void> UnicornBackend::remove_cache(GuestAddr begin, GuestAddr end) noexcept {
    return check_uc(uc_ctl(m_impl->uc, UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2), begin.value,
                           end.value),
                    "remove translation cache");
}

uint64_t UnicornBackend::pc() const {
    if (m_impl->held_pc) {
        return *m_impl->held_pc;
    }
    uint64_t v = 0;
    must(uc_reg_read(m_impl->uc, UC_ARM64_REG_PC, &v), "read pc");
    return v;
}

void UnicornBackend::set_pc(uint64_t pc) noexcept {
    if (m_impl->in_trap) {
        m_impl->held_pc = pc;
        return;
    }
    m_impl->write_pc(pc);
}

uint64_t UnicornBackend::x(int index) const {
    if (index == 32) {
        return pc();
    }
    uint64_t v = 0;
    must(uc_reg_read(m_impl->uc, reg_id(index), &v), "read x");
    return v;
}

void UnicornBackend::set_x(int index, uint64_t value) {
    if (index == 32) {
        set_pc(value);
        return;
    }
    if (index >= 29) { // x29, x30, sp
        ++m_frame_register_writes;
    }
    must(uc_reg_write(m_impl->uc, reg_id(index), &value), "write x");
}

uint64_t UnicornBackend::sp() const { return x(31); }
void UnicornBackend::set_sp(uint64_t value) { set_x(31, value); }
uint64_t UnicornBackend::pstate() const { return x(33); }

CpuState UnicornBackend::state() const {
    CpuState s;
    int ids[34];
    void* vals[34];
    for (int i = 0; i < 34; ++i) {
        ids[i] = reg_id(i);
    }
    for (size_t i = 0; i < 31; ++i) {
        vals[i] = &s.x[i];
    }
    vals[31] = &s.sp;
    vals[32] = &s.pc;
    vals[33] = &s.pstate;
    must(uc_reg_read_batch(m_impl->uc, ids, vals, 34), "read registers");
    if (m_impl->held_pc) {
        s.pc = *m_impl->held_pc;
    }
    return s;
}

FrameRegs UnicornBackend::frame_regs() const {
    FrameRegs r;
    int ids[3] = {UC_ARM64_REG_SP, UC_ARM64_REG_X29, UC_ARM64_REG_X30};
    void* vals[3] = {&r.sp, &r.fp, &r.lr};
    must(uc_reg_read_batch(m_impl->uc, ids, vals, 3), "read frame registers");
    return r;
}

void UnicornBackend::set_state(const CpuState& s) {
    ++m_frame_register_writes;
    // x0-x30, sp, NZCV, then pc (left out inside the trap callback: Impl::held_pc).
    int ids[34];
    void* vals[34];
    CpuState copy = s;
    for (int i = 0; i < 32; ++i) {
        ids[i] = reg_id(i);
    }
    for (size_t i = 0; i < 31; ++i) {
        vals[i] = &copy.x[i];
    }
    vals[31] = &copy.sp;
    uint64_t nzcv = s.pstate & 0xf0000000ULL;
    ids[32] = UC_ARM64_REG_NZCV;
    vals[32] = &nzcv;
    ids[33] = UC_ARM64_REG_PC;
    vals[33] = &copy.pc;
    const bool hold_pc = m_impl->in_trap;
    must(uc_reg_write_batch(m_impl->uc, ids, vals, hold_pc ? 33 : 34), "write registers");
    if (hold_pc) {
        m_impl->held_pc = s.pc;
    }
}

namespace {

// Q0-Q31 read and write 16 bytes (d[0] then d[1]). FPSR and FPCR go through 64-bit
// temporaries, whichever width the engine uses for them.
constexpr int kFpRegs = 34;

struct FpBatch {
    int ids[kFpRegs];
    void* vals[kFpRegs];
    uint64_t fpsr = 0;
    uint64_t fpcr = 0;

    explicit FpBatch(FpState& s) {
        for (int i = 0; i < 32; ++i) {
            ids[i] = UC_ARM64_REG_Q0 + i;
            vals[i] = &s.v[size_t(i)];
        }
        ids[32] = UC_ARM64_REG_FPSR;
        vals[32] = &fpsr;
        ids[33] = UC_ARM64_REG_FPCR;
        vals[33] = &fpcr;
    }
};

} // namespace

FpState UnicornBackend::fp_state() const {
    static_assert(sizeof(VReg) == 16);
    FpState s;
    FpBatch b(s);
    must(uc_reg_read_batch(m_impl->uc, b.ids, b.vals, kFpRegs), "read FP/SIMD registers");
    s.fpsr = uint32_t(b.fpsr);
    s.fpcr = uint32_t(b.fpcr);
    return s;
}

void UnicornBackend::set_fp_state(const FpState& state) {
    FpState copy = state;
    FpBatch b(copy);
    b.fpsr = state.fpsr;
    b.fpcr = state.fpcr;
    must(uc_reg_write_batch(m_impl->uc, b.ids, b.vals, kFpRegs), "write FP/SIMD registers");
}

uint64_t UnicornBackend::sysreg(SysReg reg) const {
    uc_arm64_cp_reg r = cp_reg(reg);
    must(uc_reg_read(m_impl->uc, UC_ARM64_REG_CP_REG, &r), "read system register");
    return r.val;
}

void UnicornBackend::set_sysreg(SysReg reg, uint64_t value) {
    ++m_frame_register_writes;
    uc_arm64_cp_reg r = cp_reg(reg);
    r.val = value;
    must(uc_reg_write(m_impl->uc, UC_ARM64_REG_CP_REG, &r), "write system register");
}

} // namespace klpemu::emu
