// TextPoke against a fake text target: old-word checks, the CMODX rule, the MOV-slot rule and
// the I-side visibility model (stale-fetch until ISB), without Unicorn.
#include "emu/insn_encoding.h"
#include "emu/symbol_table.h"
#include "patcher/icache_model.h"
#include "patcher/text_poke.h"

#include <doctest/doctest.h>

#include <map>

using namespace klpemu;
using namespace klpemu::patcher;

namespace {

constexpr GuestAddr kBase{0xffff800008000000};

class FakeText : public TextTarget {
  public:
    Result<InsnWord> read_word(GuestAddr pc) const override {
        auto it = words.find(pc);
        if (it == words.end()) {
            return make_error("unmapped {}", pc);
        }
        return it->second;
    }
    Result<void> write_word(GuestAddr pc, InsnWord word) override {
        words[pc] = word;
        ++writes;
        return {};
    }
    Result<uint64_t> read_u64(GuestAddr addr) const override { return data.at(addr); }
    Result<void> write_u64(GuestAddr addr, uint64_t value) override {
        data[addr] = value;
        return {};
    }
    uint64_t instruction_count() const override { return clock; }

    std::map<GuestAddr, InsnWord> words;
    std::map<GuestAddr, uint64_t> data;
    uint64_t clock = 0;
    int writes = 0;
};

SymbolTable make_symbols() {
    LoadedObject obj;
    obj.name = "vmlinux";
    obj.symbols.push_back(Symbol{"traced", kBase, 0x40, SymbolKind::Function, true, "vmlinux"});
    obj.symbols.push_back(
        Symbol{"ftrace_caller", kBase + 0x1000, 0x80, SymbolKind::Function, true, "vmlinux"});
    SymbolTable table;
    table.add_object(obj);
    return table;
}

} // namespace

TEST_CASE("text poke: old word mismatch writes nothing") {
    FakeText text;
    text.words[kBase + 4] = a64::mov_reg(a64::kX9, a64::kLr);
    const SymbolTable symbols = make_symbols();
    TextPoke poke(text, symbols, 2);
    auto r =
        poke.apply(TextPatch{kBase + 4, a64::nop(), a64::bl(kBase + 4, kBase + 0x1000).value()});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("traced+0x4") != std::string::npos);
    CHECK(r.error().message.find("nothing written") != std::string::npos);
    CHECK(text.writes == 0);
    CHECK(poke.log().empty());
}

TEST_CASE("text poke: symbolized, disassembled log line") {
    FakeText text;
    text.words[kBase + 4] = a64::nop();
    const SymbolTable symbols = make_symbols();
    TextPoke poke(text, symbols, 1);
    const InsnWord bl = a64::bl(kBase + 4, kBase + 0x1000).value();
    REQUIRE(poke.apply(TextPatch{kBase + 4, a64::nop(), bl}).ok());
    REQUIRE(poke.log().size() == 1);
    CHECK(poke.log()[0].line == "patch traced+0x4: nop -> bl ftrace_caller");
    CHECK(text.words[kBase + 4] == bl);
    CHECK(poke.findings().empty());
}

TEST_CASE("text poke: CMODX rule applies only to live writes with another CPU") {
    FakeText text;
    const InsnWord add = InsnWord(0x91000400); // add x0, x0, #1
    const InsnWord sub = InsnWord(0xd1000400); // sub x0, x0, #1
    text.words[kBase + 8] = add;
    const SymbolTable symbols = make_symbols();
    TextPoke poke(text, symbols, 2);
    // Before any code has run (boot): no concurrent execution, no finding.
    REQUIRE(poke.apply(TextPatch{kBase + 8, add, sub}).ok());
    CHECK(poke.findings().empty());
    // Live: the other CPU may be executing it.
    text.clock = 100;
    REQUIRE(poke.apply(TextPatch{kBase + 8, sub, add}, PokeContext{0}).ok());
    REQUIRE(poke.findings().size() == 1);
    CHECK(poke.findings()[0].kind == "cmodx-unsafe");
    CHECK(poke.findings()[0].where == "traced+0x8");
    // NOP <-> BL is in the set.
    text.words[kBase + 4] = a64::nop();
    REQUIRE(poke.apply(TextPatch{kBase + 4, a64::nop(), a64::bl(kBase + 4, kBase + 0x1000).value()},
                       PokeContext{0})
                .ok());
    CHECK(poke.findings().size() == 1);
}

TEST_CASE("text poke: MOV X9 slot rewritten after its code ran") {
    FakeText text;
    text.words[kBase] = a64::nop();
    const SymbolTable symbols = make_symbols();
    TextPoke poke(text, symbols, 1);
    poke.watch_mov_slot(kBase);
    const InsnWord mov = a64::mov_reg(a64::kX9, a64::kLr);
    REQUIRE(poke.apply(TextPatch{kBase, a64::nop(), mov, PatchPurpose::InitMovSlot}).ok());
    CHECK(poke.findings().empty());
    text.clock = 10;
    poke.on_instruction(0, kBase, mov, 9);
    REQUIRE(poke.apply(TextPatch{kBase, mov, a64::nop()}, PokeContext{0}).ok());
    REQUIRE(poke.findings().size() == 1);
    CHECK(poke.findings()[0].kind == "mov-slot-rewritten");
}

TEST_CASE("text poke: another CPU fetches the old word until its ISB") {
    FakeText text;
    text.words[kBase + 4] = a64::nop();
    text.clock = 50;
    const SymbolTable symbols = make_symbols();
    TextPoke poke(text, symbols, 2);
    const InsnWord bl = a64::bl(kBase + 4, kBase + 0x1000).value();
    REQUIRE(poke.apply(TextPatch{kBase + 4, a64::nop(), bl}, PokeContext{0}).ok());
    CHECK_FALSE(poke.icache().stale_view(0, kBase + 4).has_value());
    REQUIRE(poke.icache().stale_view(1, kBase + 4).has_value());

    poke.on_instruction(0, kBase + 4, bl, 51); // The writer: synchronised.
    CHECK(poke.findings().empty());
    poke.on_instruction(1, kBase + 4, bl, 52);
    REQUIRE(poke.findings().size() == 1);
    CHECK(poke.findings()[0].kind == "stale-fetch");
    CHECK(poke.findings()[0].severity == Severity::Info);
    CHECK(poke.findings()[0].cpu == 1);
    poke.on_instruction(1, kBase + 4, bl, 53); // Reported once per write.
    CHECK(poke.findings().size() == 1);

    poke.on_context_sync(1); // The machine reports the ISB (any option) or exception.
    CHECK_FALSE(poke.icache().stale_view(1, kBase + 4).has_value());
}

TEST_CASE("icache model: synchronisation clears a view; A -> B -> A does not") {
    IcacheModel model(3);
    model.note_write(kBase, a64::nop(), a64::brk(0x100), 0, 1);
    CHECK(model.stale_count(1) == 1);
    CHECK(model.stale_elsewhere(0, kBase));
    model.synchronise(1);
    CHECK(model.stale_count(1) == 0);
    CHECK(model.stale_count(2) == 1);
    model.note_write(kBase, a64::brk(0x100), a64::nop(), 0, 2);
    // CPU 2 never synchronised: it may have fetched the BRK and may fetch it still.
    REQUIRE(model.stale_count(2) == 1);
    const auto two = model.stale_view(2, kBase);
    REQUIRE(two.has_value());
    CHECK(two->new_word == a64::nop());
    CHECK(two->may_fetch == std::vector<InsnWord>{a64::brk(0x100)});
    CHECK(two->write_id == 2);
    // CPU 1 synchronised after the first write: it may fetch the BRK until its next one.
    const auto one = model.stale_view(1, kBase);
    REQUIRE(one.has_value());
    CHECK(one->may_fetch == std::vector<InsnWord>{a64::brk(0x100)});
    CHECK(model.stale_count(0) == 0); // The writer.
}

TEST_CASE("text poke: after A -> B -> A the stale-fetch names every word since the last sync") {
    FakeText text;
    text.words[kBase + 4] = a64::nop();
    text.clock = 50;
    const SymbolTable symbols = make_symbols();
    TextPoke poke(text, symbols, 2);
    const InsnWord bl = a64::bl(kBase + 4, kBase + 0x1000).value();
    REQUIRE(poke.apply(TextPatch{kBase + 4, a64::nop(), bl}, PokeContext{0}).ok());
    REQUIRE(poke.apply(TextPatch{kBase + 4, bl, a64::nop()}, PokeContext{0}).ok());
    poke.on_instruction(1, kBase + 4, a64::nop(), 60);
    REQUIRE(poke.findings().size() == 1);
    CHECK(poke.findings()[0].kind == "stale-fetch");
    CHECK(poke.findings()[0].message ==
          "cpu1 executes a word it has not synchronised: it may fetch any of bl ftrace_caller "
          "(written since its last synchronisation) or the new nop until its next ISB or "
          "exception");
}

TEST_CASE("text poke: a live write tells the target which word each other CPU still sees") {
    struct ViewText : FakeText {
        std::map<std::pair<int, GuestAddr>, std::optional<InsnWord>> views;
        void set_stale_view(int cpu, GuestAddr pc, std::optional<InsnWord> word) override {
            views[{cpu, pc}] = word;
        }
    } text;
    text.words[kBase + 4] = a64::nop();
    text.clock = 50;
    const SymbolTable symbols = make_symbols();
    TextPoke poke(text, symbols, 2);
    const InsnWord bl = a64::bl(kBase + 4, kBase + 0x1000).value();
    REQUIRE(poke.apply(TextPatch{kBase + 4, a64::nop(), bl}, PokeContext{0}).ok());
    CHECK(text.views.at({0, kBase + 4}) == std::nullopt);
    CHECK(text.views.at({1, kBase + 4}) == std::optional(a64::nop()));
    // The `old` outcome as cpu1 executes it: the finding says the call did not happen.
    poke.on_instruction(1, kBase + 4, a64::nop(), 51);
    REQUIRE(poke.findings().size() == 1);
    CHECK(poke.findings()[0].message ==
          "cpu1 executes the old nop, not the new bl ftrace_caller memory holds: it has not "
          "synchronised since the write (until its next ISB or exception)");
}
