// TextPoke: checked single-word text writes, the CMODX rule, the MOV-slot rule and the I-side
// visibility model behind stale-fetch (see text_poke.h and reference §1(d), §5(d)).
#include "patcher/text_poke.h"

#include "emu/finding_emitter.h"
#include "emu/insn_encoding.h"

#include <fmt/format.h>

namespace klpemu::patcher {

TextPoke::TextPoke(TextTarget& target, const SymbolTable& symbols, int cpu_count)
    : m_target(target), m_symbols(symbols), m_cpu_count(cpu_count), m_icache(cpu_count) {}

std::string TextPoke::describe(GuestAddr pc, InsnWord word) const {
    const DecodedInsn decoded = m_disassembler.decode(word, pc);
    if (!decoded.valid) {
        return fmt::format(".inst 0x{:08x}", word.raw);
    }
    if (auto target = a64::branch_target(pc, word)) {
        const std::string mnemonic = decoded.text.substr(0, decoded.text.find(' '));
        return fmt::format("{} {}", mnemonic, m_symbols.symbolize(*target).str());
    }
    return decoded.text;
}

bool TextPoke::others_may_execute(const TextPatch& patch, const PokeContext& context) const {
    // Before any instruction has run nothing executes concurrently (boot), nor in text that is
    // not live yet unless it already ran; afterwards every CPU but the writer may be fetching
    // any word.
    if (m_target.instruction_count() == 0) {
        return false;
    }
    if (context.text_not_live && !m_executed.contains(patch.pc)) {
        return false;
    }
    const int others = m_cpu_count - (context.writer_cpu ? 1 : 0);
    return others > 0;
}

Result<void> TextPoke::apply(const TextPatch& patch, const PokeContext& context) {
    const std::string where = m_symbols.symbolize(patch.pc).str();
    if (!patch.pc.is_aligned(kInsnSize)) {
        return make_error("text poke: {}: misaligned instruction address {}", where, patch.pc);
    }
    auto current = m_target.read_word(patch.pc);
    if (!current.ok()) {
        return make_error("text poke: {}: {}", where, current.error().message);
    }
    if (*current != patch.expected_old) {
        return make_error("text poke: {}: expected {} ({}), found {} ({}); nothing written", where,
                          patch.expected_old, describe(patch.pc, patch.expected_old), *current,
                          describe(patch.pc, *current));
    }

    const bool live = others_may_execute(patch, context);
    if (live && !(a64::is_cmodx_safe(patch.expected_old) && a64::is_cmodx_safe(patch.new_word))) {
        add_finding("cmodx-unsafe", Severity::Error, patch.pc, context.writer_cpu,
                    fmt::format("live write {} -> {} while another CPU may execute it; both "
                                "words must be B, BL, NOP, BRK, SVC, HVC, SMC or ISB",
                                describe(patch.pc, patch.expected_old),
                                describe(patch.pc, patch.new_word)));
    }
    for (const PokeCheck* check : m_checks) {
        if (auto violation = check->check(patch)) {
            add_finding(std::move(violation->kind), Severity::Error, patch.pc, context.writer_cpu,
                        std::move(violation->message));
        }
    }
    if (m_mov_slots.contains(patch.pc) && m_executed.contains(patch.pc)) {
        add_finding("mov-slot-rewritten", Severity::Error, patch.pc, context.writer_cpu,
                    fmt::format("the MOV X9 slot is written ({} -> {}) after its code ran",
                                describe(patch.pc, patch.expected_old),
                                describe(patch.pc, patch.new_word)));
    }

    KLP_TRY(m_target.write_word(patch.pc, patch.new_word));

    const uint64_t id = m_next_id++;
    if (live) {
        m_icache.note_write(patch.pc, patch.expected_old, patch.new_word, context.writer_cpu, id);
        // The `old` outcome: each CPU keeps executing what the word was at its last
        // synchronisation (its view of the page with the writes since then still pending).
        for (int cpu = 0; cpu < m_cpu_count; ++cpu) {
            const auto view = m_icache.stale_view(cpu, patch.pc);
            const bool differs = view && view->old_word != view->new_word;
            m_target.set_stale_view(cpu, patch.pc,
                                    differs ? std::optional(view->old_word) : std::nullopt);
        }
    }
    add_watch(patch.pc);
    m_log.push_back(PokeRecord{
        .id = id,
        .instruction = m_target.instruction_count(),
        .pc = patch.pc,
        .old_word = patch.expected_old,
        .new_word = patch.new_word,
        .purpose = patch.purpose,
        .line = fmt::format("patch {}: {} -> {}", where, describe(patch.pc, patch.expected_old),
                            describe(patch.pc, patch.new_word)),
    });
    return {};
}

Result<void> TextPoke::write_literal(GuestAddr addr, uint64_t expected_old, uint64_t value,
                                     const Symbol* function) {
    const std::string where = function
                                  ? fmt::format("{}-{:#x}", function->name, function->addr - addr)
                                  : m_symbols.symbolize(addr).str();
    if (!addr.is_aligned(8)) {
        return make_error("text poke: {}: CALL_OPS literal at {} is not 8-byte aligned", where,
                          addr);
    }
    auto current = m_target.read_u64(addr);
    if (!current.ok()) {
        return make_error("text poke: {}: {}", where, current.error().message);
    }
    if (*current != expected_old) {
        return make_error("text poke: {}: literal expected {:#x}, found {:#x}; nothing written",
                          where, expected_old, *current);
    }
    KLP_TRY(m_target.write_u64(addr, value));
    // The compiler leaves two NOPs where the literal goes.
    auto show = [&](uint64_t v) {
        return v == 0xd503201fd503201fULL ? std::string("nop; nop")
                                          : m_symbols.symbolize(GuestAddr(v)).str();
    };
    m_log.push_back(PokeRecord{
        .id = m_next_id++,
        .instruction = m_target.instruction_count(),
        .pc = addr,
        .old_word = {},
        .new_word = {},
        .purpose = PatchPurpose::CallSite,
        .line = fmt::format("literal {}: {} -> {}", where, show(expected_old), show(value)),
    });
    return {};
}

void TextPoke::watch_mov_slot(GuestAddr pc) {
    m_mov_slots.insert(pc);
    add_watch(pc);
}

void TextPoke::watch(GuestAddr pc) {
    add_watch(pc);
}

void TextPoke::add_watch(GuestAddr pc) {
    m_watched.insert(pc);
    m_watch_filter.add(pc);
}

void TextPoke::on_instruction(int cpu, GuestAddr pc, InsnWord word, uint64_t instruction) {
    if (m_watch_filter.may_contain(pc) && m_watched.contains(pc)) {
        m_executed.insert(pc);
    }
    if (!m_icache.any_stale(cpu)) {
        return;
    }
    if (auto stale = m_icache.stale_view(cpu, pc)) {
        if (m_stale_reported.emplace(cpu, stale->write_id).second) {
            m_findings.push_back(make_finding(m_symbols, "stale-fetch", Severity::Info,
                                              FindingAt{pc, cpu, {}, instruction},
                                              stale_message(cpu, pc, word, *stale)));
        }
    }
}

std::string TextPoke::stale_message(int cpu, GuestAddr pc, InsnWord executed,
                                    const IcacheModel::StaleView& stale) const {
    if (executed != stale.new_word) {
        // The `old` outcome: the CPU runs a word memory no longer holds.
        return fmt::format("cpu{} executes the old {}, not the new {} memory holds: it has not "
                           "synchronised since the write (until its next ISB or exception)",
                           cpu, describe(pc, executed), describe(pc, stale.new_word));
    }
    if (stale.may_fetch.size() == 1 && stale.may_fetch.front() == stale.old_word) {
        return fmt::format("cpu{} executes a word it has not synchronised: it may fetch the old "
                           "{} or the new {} until its next ISB or exception",
                           cpu, describe(pc, stale.old_word), describe(pc, stale.new_word));
    }
    std::string words;
    for (const InsnWord w : stale.may_fetch) {
        words += (words.empty() ? "" : ", ") + describe(pc, w);
    }
    return fmt::format("cpu{} executes a word it has not synchronised: it may fetch any of {} "
                       "(written since its last synchronisation) or the new {} until its next "
                       "ISB or exception",
                       cpu, words, describe(pc, stale.new_word));
}

void TextPoke::on_context_sync(int cpu) {
    m_icache.synchronise(cpu);
}

std::vector<Finding> TextPoke::take_findings() {
    std::vector<Finding> out;
    out.swap(m_findings);
    return out;
}

void TextPoke::add_finding(std::string kind, Severity severity, GuestAddr pc,
                           std::optional<int> cpu, std::string message) {
    m_findings.push_back(make_finding(m_symbols, std::move(kind), severity,
                                      FindingAt{pc, cpu, {}, m_target.instruction_count()},
                                      std::move(message)));
}

} // namespace klpemu::patcher
