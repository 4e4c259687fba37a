// The machine's half of concurrent modification of code (Arm ARM B2.2.5): the context
// synchronisation events every CPU performs (ISB of any option, IRQ entry, ERET, SVC entry and
// ERET to EL0), the `old` outcome (a CPU that has not synchronised runs the word it still sees,
// emu/stale_fetch.h) and the FIX_TEXT_POKE0 slot through which guest code writes text
// (emu/text_poke_alias.h, emu/guest/text_poke.S).
#include "emu/machine.h"

#include "emu/assembler.h"
#include "emu/loader.h"
#include "emu/machine_internal.h"

#include <cstring>

namespace klpemu::emu {

std::string_view embedded_guest_source(std::string_view file_name);

void Machine::context_sync(Cpu& cpu) noexcept {
    ++cpu.context_syncs;
    m_stale_views.synchronise(cpu.index);
    for (ExecutionObserver* o : m_observers) {
        o->on_context_sync(cpu.index);
    }
}

uint64_t Machine::context_syncs(int cpu) const {
    return m_cpus.at(size_t(cpu))->context_syncs;
}

void Machine::set_stale_view(int cpu, GuestAddr pc, std::optional<InsnWord> old_word) {
    KLP_CHECK(cpu >= 0 && cpu < cpu_count(), "cpu {} out of range", cpu);
    if (m_config.stale_fetch == StaleFetch::Old) {
        m_stale_views.set(cpu, pc, old_word);
    }
}

// The code hook's path for a word this CPU still sees instead of memory's: counted, costed and
// observed as that word, then executed here (NOP, B, BL), so Unicorn never runs memory's word.
void Machine::run_stale_word(Cpu& cpu, uint64_t pc, InsnWord word) noexcept {
    cpu.last_pc = pc;
    const uint64_t before = m_clock++;
    ++cpu.instructions;
    Task& t = *cpu.current;
    ++t.instructions;
    uint64_t cost = 0;
    if (cpu.isb_pending) {
        cpu.isb_pending = false;
        cost += cpu.clock->isb();
    }
    cost += cpu.clock->instruction(pc, m_costs->model().cost(word), word);
    cpu.cycles += cost;
    t.cycles += cost;
    if (!m_observers.empty()) {
        InsnEvent ev{cpu.index, t.id, GuestAddr(pc), word, before};
        m_in_hook = &cpu;
        for (ExecutionObserver* o : m_observers) {
            o->on_instruction(ev);
        }
        m_in_hook = nullptr;
    }
    const InPlaceEffect effect = execute_in_place(pc, word);
    if (effect.link) {
        cpu.backend->set_x(30, *effect.link);
    }
    cpu.guard_pc = kNoPc;
    cpu.backend->set_pc(effect.next_pc); // Unicorn resumes there; memory's word never runs.
    if (m_stop_requested) {
        cpu.stop_now(CpuStop::Observer);
    }
}

Result<void> Machine::load_text_poke_code() {
    const std::string_view file = "text_poke.S";
    const std::string_view source = embedded_guest_source(file);
    KLP_CHECK(!source.empty(), "guest source {} is not embedded", file);
    KLP_TRY_ASSIGN(obj, assemble_source(source, file));
    KLP_TRY_ASSIGN(size, Loader::layout_size(obj));
    KLP_CHECK(size <= kTextPokeCodeSize, "{} needs {:#x} bytes", file, size);
    LoadOptions opts;
    opts.kind = ObjectKind::Kernel;
    const GuestAddr base = kKernelBase + int64_t(kKernelSize - kTextPokeCodeSize);
    KLP_TRY_ASSIGN(loaded, Loader().load(obj, base, opts, m_symbols));
    KLP_TRY(load(loaded));
    // r-- for the guest: a store through the alias is a write-protection event the machine
    // completes and records (on_protected_write), so no write hook has to watch every store.
    // Without the text guard (the raw-speed bench) nothing watches it: a plain rw- page.
    return map_region("fix_text_poke0", kTextPokeAliasBase, kPageSize,
                      m_guard ? Perm::Read : Perm::ReadWrite, false);
}

void Machine::hc_patch_map(HostCallContext& ctx) {
    const GuestAddr text(ctx.arg(0));
    const GuestAddr page = text.align_down(kPageSize);
    const uint8_t* from = m_memory.host_ptr(page, kPageSize);
    if (from == nullptr) {
        ctx.set_result(0); // Nothing to map: the store through NULL faults.
        return;
    }
    const GuestAddr alias = m_alias.map(text);
    // Loads through the alias read the page as it is now (set_fixmap_offset maps the same
    // physical page; here it is a copy kept by the stores made through it).
    std::memcpy(m_memory.host_ptr(kTextPokeAliasBase, kPageSize), from, kPageSize);
    ctx.set_result(alias.value);
}

void Machine::hc_patch_unmap(HostCallContext&) {
    m_alias.unmap();
}

Result<void> Machine::apply_alias_stores(Cpu& cpu) {
    std::vector<Cpu::AliasStore> stores;
    stores.swap(cpu.alias_stores);
    for (const Cpu::AliasStore& s : stores) {
        const auto first = m_alias.text_address(s.addr);
        const auto last = m_alias.text_address(s.addr + uint64_t(s.size) - 1);
        if (!first || !last) {
            kill_current(cpu, "unmapped-access", GuestAddr(s.pc),
                         fmt::format("store of {} bytes at {:#018x} through the FIX_TEXT_POKE0 "
                                     "slot while it maps no text page",
                                     s.size, s.addr));
            return {};
        }
        m_guest_text_write = true;
        Result<void> written = {};
        if (m_alias_writer != nullptr) {
            written =
                m_alias_writer->alias_store(cpu.index, GuestAddr(s.pc), *first, s.size, s.value);
        } else {
            uint8_t bytes[8];
            std::memcpy(bytes, &s.value, sizeof bytes);
            written = write_text_bytes(*first, std::span<const uint8_t>(bytes, size_t(s.size)));
        }
        m_guest_text_write = false;
        if (!written) {
            kill_current(cpu, "protection-fault", GuestAddr(s.pc),
                         fmt::format("text write through the FIX_TEXT_POKE0 slot at {}: {}",
                                     symbolized(first->value), written.error().message));
            return {};
        }
    }
    return {};
}

} // namespace klpemu::emu
