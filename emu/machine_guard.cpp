// The machine's half of the text guard (emu/text_guard.h): keeping every CPU's Unicorn exit set
// equal to the guard's trap set, catching guest stores through the FIX_TEXT_POKE0 alias (the one
// way the guest writes text), and turning a stop at an exit into the `undefined-instruction`
// finding the architecture's UDEF would give.
#include "emu/machine.h"

#include "emu/machine_internal.h"
#include "emu/text_guard.h"

namespace klpemu::emu {

void Machine::push_exits() noexcept {
    const std::vector<uint64_t> exits = m_guard->exits();
    for (auto& cpu : m_cpus) {
        auto r = cpu->backend->set_exits(exits);
        KLP_CHECK(r.ok(), "text guard: {}", r.error().message);
    }
}

size_t Machine::guard_trap_count() const {
    return m_guard ? m_guard->trap_count() : 0;
}

void Machine::guard_rescan(GuestAddr begin, GuestAddr end) noexcept {
    if (m_guard && m_guard->rescan(begin, end)) {
        push_exits();
    }
}

bool Machine::on_protected_write(Cpu& cpu, uint64_t addr, int size, uint64_t value) noexcept {
    // Only a machine with the text guard maps the alias page r-- (load_text_poke_code), so only
    // there does a store into it arrive here.
    if (!TextPokeAlias::covers(addr, size)) {
        return false; // A store into r-x text or r-- rodata: the protection fault.
    }
    // A store through the FIX_TEXT_POKE0 slot: a text write once it has completed.
    cpu.alias_stores.push_back(Cpu::AliasStore{cpu.last_pc, addr, size, value});
    return true;
}

Machine::GuardStop Machine::guard_stop(Cpu& cpu) {
    if (!m_guard) {
        return GuardStop::NotOurs;
    }
    const uint64_t pc = cpu.backend->pc();
    const auto word = m_guard->classify_at(pc);
    if (!word) {
        return GuardStop::NotOurs;
    }
    const auto [w, cls] = *word;
    if (cls != WordClass::Runnable) {
        if (!m_breakpoints.empty() && m_breakpoints.count(pc) && cpu.guard_pc != pc) {
            // "About to execute" holds for a trapping word too: stop there first.
            cpu.guard_pc = pc;
            cpu.guard_skip_all = false;
            cpu.last_pc = pc;
            return GuardStop::Breakpoint;
        }
        kill_current(cpu, "undefined-instruction", GuestAddr(pc),
                     fmt::format("undefined instruction {:08x} ({}; trapped before Unicorn's "
                                 "translator)",
                                 w.raw, word_class_name(cls)));
        return GuardStop::Trapped;
    }
    // A runnable word at an exit: a block translated while the word still trapped (a guest
    // store or host data write made it runnable). Drop the stale blocks and go on; a second
    // stop here without progress is not the guard's doing.
    if (cpu.stale_exit_pc == pc && cpu.stale_exit_instructions == cpu.instructions) {
        return GuardStop::NotOurs;
    }
    cpu.stale_exit_pc = pc;
    cpu.stale_exit_instructions = cpu.instructions;
    guard_rescan(GuestAddr(pc), GuestAddr(pc + kInsnSize));
    const GuestAddr page = GuestAddr(pc).align_down(kPageSize);
    for (auto& c : m_cpus) {
        auto r = c->backend->remove_cache(page, page + int64_t(kPageSize));
        KLP_CHECK(r.ok(), "text guard: {}", r.error().message);
    }
    return GuardStop::Resume;
}

} // namespace klpemu::emu
