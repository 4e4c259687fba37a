// The assembler's pass over the source before LLVM MC 19 parses it. Each check here stands for
// an input the assembler fuzzer found (tests/data/fuzz-regressions/asm/, tests/fuzz/RESULTS.md)
// where LLVM itself would grow memory or time without bound, or write a broken object, before any
// check after parsing could run:
// - repetition bodies (`.rept`/`.rep`/`.irp`/`.irpc` ... `.endr`) that LLVM would nest wrongly:
//   it expands a body into one text buffer before parsing any of it, and it finds a body's end by
//   counting only the directives that begin a statement, spelt exactly in lower case; a hidden
//   repetition directive then takes every later copy as its own body (32^k bytes at depth k);
// - repetition counts that are real literals, or too large alone or multiplied when nested;
// - literal alignments LLVM would pad to (a negative `.p2align` is 2^61 to it);
// - sections named like the tables LLVM's ELF writer makes itself;
// - a recursive macro that calls itself (directly or through others) from inside a repetition
//   body: LLVM stops macro recursion when exactly 20 instantiations are active
//   (`ActiveMacros.size() == MaxNestingDepth`), but a repetition's instantiation is active too
//   and is not checked, so a body that nests once more steps over 20 and the recursion never
//   ends (the assembler fuzzer's out-of-memory, macro-recursion-through-rept-oom.S);
// - an `.irp`/`.irpc` value written `name=value`: LLVM parses it as a named macro argument and
//   looks the name up in the macro's parameters, but a repetition has no macro (a null
//   pointer), so the assembler crashes (irp-named-argument-segv.S; llvm-mc 19 does too).
// The scan uses LLVM's own lexer, one statement at a time, so it sees the tokens LLVM will see.
#include "emu/asm_source_checks.h"

#include <fmt/format.h>
#include <llvm/MC/MCParser/AsmLexer.h>
#include <llvm/Support/MemoryBuffer.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace klpemu {

namespace {

// The most repetitions one `.rept` may ask for, and the most times nested `.rept`s may repeat
// their innermost body in all (a count from a typo, `.rept 64.`, is a real literal whose IEEE
// bits 0x4050000000000000 LLVM uses as the count).
constexpr uint64_t kMaxReptCount = 1u << 20;

// The names LLVM's parseMacroLikeBody compares, case-sensitively, to nest bodies.
constexpr std::array<llvm::StringLiteral, 4> kRepetitionNames = {".rept", ".rep", ".irp",
                                                                 ".irpc"};
constexpr llvm::StringLiteral kEndRepetition = ".endr";

// The sections LLVM's ELF writer asks MCContext for by name (and would get the source's).
constexpr std::array<llvm::StringLiteral, 4> kWriterTables = {".symtab", ".strtab", ".shstrtab",
                                                              ".symtab_shndx"};

bool names_repetition(llvm::StringRef name) {
    return std::any_of(kRepetitionNames.begin(), kRepetitionNames.end(),
                       [&](llvm::StringRef r) { return name.equals_insensitive(r); });
}

bool is_identifier(const llvm::AsmToken& t) { return t.is(llvm::AsmToken::Identifier); }

// `b` follows `a` with nothing between them: the two are one word of the source.
bool glued(const llvm::AsmToken& a, const llvm::AsmToken& b) {
    return a.getEndLoc().getPointer() == b.getLoc().getPointer();
}

class SourceScan {
  public:
    SourceScan(const llvm::MCAsmInfo& asm_info, const llvm::SourceMgr& source_mgr)
        : m_lexer(asm_info), m_source_mgr(source_mgr) {
        m_lexer.setBuffer(source_mgr.getMemoryBuffer(source_mgr.getMainFileID())->getBuffer());
    }

    std::vector<llvm::SMDiagnostic> run() {
        std::vector<llvm::AsmToken> statement;
        bool complete = true;
        for (m_lexer.Lex();; m_lexer.Lex()) {
            const llvm::AsmToken& t = m_lexer.getTok();
            if (!t.is(llvm::AsmToken::EndOfStatement) && !t.is(llvm::AsmToken::Eof)) {
                statement.push_back(t);
                continue;
            }
            if (!statement.empty()) {
                note_macro_statement(statement);
                if (!check_statement(statement)) {
                    complete = false;
                    break;
                }
            }
            statement.clear();
            if (t.is(llvm::AsmToken::Eof)) {
                break;
            }
        }
        if (complete) {
            check_macro_recursion();
        }
        return std::move(m_errors);
    }

  private:
    // False when the nesting from here on can no longer be known: the scan stops.
    bool check_statement(const std::vector<llvm::AsmToken>& s) {
        if (s[0].is(llvm::AsmToken::HashDirective)) {
            note_line_marker(s);
            return true;
        }
        for (size_t i = 0; i < s.size(); ++i) {
            if (!check_nesting(s, i)) {
                return false;
            }
            // Where a directive can stand: the start, or after a label's colon.
            if (i != 0 && !s[i - 1].is(llvm::AsmToken::Colon)) {
                continue;
            }
            if (!check_built_name(s, i)) {
                return false;
            }
            if (is_identifier(s[i])) {
                check_alignment(s, i);
                check_section_name(s, i);
            }
        }
        return true;
    }

    // The repetition bodies LLVM would be collecting (`m_open_counts`), kept as LLVM keeps them,
    // and every spelling whose nesting LLVM would see differently from how it runs it.
    bool check_nesting(const std::vector<llvm::AsmToken>& s, size_t i) {
        if (!is_identifier(s[i])) {
            return true;
        }
        const llvm::StringRef name = s[i].getString();
        const bool repetition = names_repetition(name);
        const bool end = name.equals_insensitive(kEndRepetition);
        if (!repetition && !end) {
            return true;
        }
        if (!m_open_counts.empty()) {
            if (name != name.lower()) {
                error(s[i].getLoc(),
                      fmt::format("'{}' inside a repeated body: LLVM looks for '{}' spelt in "
                                  "lower case when it finds where the body ends, but runs it in "
                                  "any case, so the bodies would nest wrongly and grow without "
                                  "bound; write '{}'",
                                  name.str(), name.lower(), name.lower()));
                return false;
            }
            if (repetition && i != 0) {
                error(s[i].getLoc(),
                      fmt::format("'{}' inside a repeated body but not at the start of its line: "
                                  "LLVM does not count it when it looks for the body's '.endr' "
                                  "(GNU as does), so the bodies would nest wrongly and grow "
                                  "without bound; put it on a line of its own",
                                  name.str()));
                return false;
            }
        }
        if (end) {
            if (i == 0 && !m_open_counts.empty()) {
                m_open_counts.pop_back();
            }
            return true;
        }
        // A repetition directive behind a label but inside no body: LLVM runs it and finds its
        // `.endr` like any other (which over-counts the rare `.rept` written as an operand,
        // erring on the side of refusing).
        if (name.equals_insensitive(".irp")) {
            check_repetition_values(s, i);
            check_named_values(s, i);
            m_open_counts.push_back(1);
        } else if (name.equals_insensitive(".irpc")) {
            check_named_values(s, i);
            m_open_counts.push_back(1);
        } else {
            m_open_counts.push_back(repetition_count(s, i));
        }
        return true;
    }

    // The literal count of the `.rept`/`.rep` at s[i] (1 when it is not a literal), after
    // reporting a count that is a real number or that, alone or times the enclosing bodies'
    // counts, passes kMaxReptCount.
    uint64_t repetition_count(const std::vector<llvm::AsmToken>& s, size_t i) {
        if (i + 1 >= s.size()) {
            return 1;
        }
        const std::string directive = s[i].getString().str();
        const llvm::AsmToken& n = s[i + 1];
        if (n.is(llvm::AsmToken::Real)) {
            error(n.getLoc(),
                  fmt::format("'{} {}': the count is a real number (LLVM would repeat the body "
                              "as many times as its bit pattern says); write an integer",
                              directive, n.getString().str()));
            return 1;
        }
        if (!n.is(llvm::AsmToken::Integer)) {
            return 1; // An expression or a symbol: left to LLVM (docs/toolchain.md).
        }
        if (n.getAPIntVal().getActiveBits() > 64 ||
            n.getAPIntVal().getZExtValue() > kMaxReptCount) {
            error(n.getLoc(), fmt::format("'{} {}': more than {} repetitions (klpemu's limit; "
                                          "LLVM expands every one in memory before it parses them)",
                                          directive, n.getString().str(), kMaxReptCount));
            return 1;
        }
        const uint64_t count = std::max<uint64_t>(n.getAPIntVal().getZExtValue(), 1);
        uint64_t total = count;
        for (const uint64_t outer : m_open_counts) {
            total = outer > kMaxReptCount / total ? kMaxReptCount + 1 : total * outer;
        }
        if (total > kMaxReptCount && !m_open_counts.empty()) {
            error(n.getLoc(), fmt::format("'{} {}' inside {} repeated bodies: the innermost body "
                                          "would be repeated more than {} times in all (klpemu's "
                                          "limit; LLVM expands every copy in memory)",
                                          directive, n.getString().str(), m_open_counts.size(),
                                          kMaxReptCount));
        }
        return count;
    }

    // An `.irp` value that is itself a repetition directive's name: `\d` in the body
    // would become a directive LLVM did not count while it collected the body.
    void check_repetition_values(const std::vector<llvm::AsmToken>& s, size_t i) {
        for (size_t v = i + 2; v < s.size(); ++v) {
            const llvm::StringRef value = s[v].getString();
            if (is_identifier(s[v]) &&
                (names_repetition(value) || value.equals_insensitive(kEndRepetition))) {
                error(s[v].getLoc(),
                      fmt::format("'{}' value '{}' names a repetition directive: LLVM would not "
                                  "count it where the body uses it, so the bodies would nest "
                                  "wrongly; klpemu refuses it",
                                  s[i].getString().str(), value.str()));
            }
        }
    }

    // An `.irp`/`.irpc` value that reads as a named argument (`b=0`, `b = 0`): LLVM's
    // parseMacroArguments looks `b` up in the parameters of the macro being called, and for a
    // repetition there is none; it dereferences a null pointer.
    void check_named_values(const std::vector<llvm::AsmToken>& s, size_t i) {
        for (size_t v = i + 2; v + 1 < s.size(); ++v) {
            if (is_identifier(s[v]) && s[v + 1].is(llvm::AsmToken::Equal)) {
                error(s[v].getLoc(),
                      fmt::format("'{}' value '{}=': LLVM reads it as a named macro argument, "
                                  "and a repetition has no macro to name it in (the assembler "
                                  "would crash); quote the value or leave out the '='",
                                  s[i].getString().str(), s[v].getString().str()));
                return;
            }
        }
    }

    // Inside a repeated body, a directive name glued together from a literal dot and an argument
    // (`.\d`, `.re\d`): LLVM cannot count what it becomes when it looks for the body's end.
    // A label built that way (`.L\@:`, the kernel's macros) is fine.
    bool check_built_name(const std::vector<llvm::AsmToken>& s, size_t i) {
        if (m_open_counts.empty()) {
            return true;
        }
        const bool dotted = s[i].is(llvm::AsmToken::Dot) ||
                            (is_identifier(s[i]) && s[i].getString().starts_with("."));
        if (!dotted) {
            return true;
        }
        size_t end = i + 1;
        bool substituted = false;
        while (end < s.size() && glued(s[end - 1], s[end])) {
            substituted = substituted || s[end].is(llvm::AsmToken::BackSlash);
            ++end;
        }
        if (!substituted || (end < s.size() && s[end].is(llvm::AsmToken::Colon)) ||
            (end > 0 && s[end - 1].is(llvm::AsmToken::Colon))) {
            return true;
        }
        const char* begin = s[i].getLoc().getPointer();
        const std::string word(begin, s[end - 1].getEndLoc().getPointer());
        error(s[i].getLoc(),
              fmt::format("'{}' inside a repeated body: a directive name built from an argument "
                          "may become '.rept' or '.endr', which LLVM would not count when it "
                          "looks for the body's end; write the directive out",
                          word));
        return false;
    }

    // The macro call graph, as far as the text shows it: which macro's body invokes which name
    // (a statement's first word where a directive could stand), and whether from inside a
    // repetition body opened in that macro's body.
    void note_macro_statement(const std::vector<llvm::AsmToken>& s) {
        if (!is_identifier(s[0])) {
            return;
        }
        const llvm::StringRef first = s[0].getString();
        if (first.equals_insensitive(".macro") && s.size() > 1 && is_identifier(s[1])) {
            if (m_macro_depth++ == 0) {
                m_macro = s[1].getString().lower();
                m_macro_open_counts = m_open_counts.size();
            }
            m_macro_names.try_emplace(s[1].getString().lower(), m_macro_names.size());
            return;
        }
        if (first.equals_insensitive(".endm") || first.equals_insensitive(".endmacro")) {
            m_macro_depth = m_macro_depth > 0 ? m_macro_depth - 1 : 0;
            return;
        }
        if (m_macro_depth == 0 || first.starts_with(".")) {
            return;
        }
        const bool in_repetition = m_open_counts.size() > m_macro_open_counts;
        m_macro_calls.push_back(MacroCall{m_macro, first.lower(), in_repetition, s[0].getLoc()});
    }

    // A cycle of macro calls with a call from inside a repetition body is reported at that call:
    // a call whose two macros are in one strongly connected component of the call graph.
    void check_macro_recursion() {
        const std::vector<size_t> component = macro_components();
        for (const MacroCall& call : m_macro_calls) {
            const auto callee = m_macro_names.find(call.callee);
            if (!call.in_repetition || callee == m_macro_names.end() ||
                component[callee->second] != component[m_macro_names.at(call.caller)]) {
                continue;
            }
            const std::string cycle =
                call.caller == call.callee
                    ? fmt::format("macro '{}' calls itself", call.caller)
                    : fmt::format("macro '{}' calls '{}', which leads back to '{}',", call.caller,
                                  call.callee, call.caller);
            error(call.at, fmt::format("{} from inside a repeated body: LLVM's limit of 20 nested "
                                       "macros does not count the repeated bodies, so this "
                                       "recursion would never stop; klpemu refuses it",
                                       cycle));
            return;
        }
    }

    // The strongly connected component of each macro (indexed as m_macro_names) in the call
    // graph, by Kosaraju's two passes, iterative so that a long chain of macros cannot exhaust
    // the host stack: linear in macros and calls, whatever the file.
    std::vector<size_t> macro_components() const {
        const size_t n = m_macro_names.size();
        std::vector<std::vector<size_t>> out(n), in(n);
        for (const MacroCall& call : m_macro_calls) {
            const auto callee = m_macro_names.find(call.callee);
            if (callee != m_macro_names.end()) {
                const size_t from = m_macro_names.at(call.caller);
                out[from].push_back(callee->second);
                in[callee->second].push_back(from);
            }
        }
        // Pass 1: every macro in the order its depth-first search finishes.
        std::vector<size_t> finished;
        std::vector<bool> seen(n, false);
        for (size_t root = 0; root < n; ++root) {
            if (seen[root]) {
                continue;
            }
            seen[root] = true;
            std::vector<std::pair<size_t, size_t>> stack{{root, 0}}; // {macro, next edge}
            while (!stack.empty()) {
                auto& [v, next] = stack.back();
                if (next < out[v].size()) {
                    const size_t w = out[v][next++];
                    if (!seen[w]) {
                        seen[w] = true;
                        stack.emplace_back(w, 0);
                    }
                } else {
                    finished.push_back(v);
                    stack.pop_back();
                }
            }
        }
        // Pass 2: on the reversed graph, latest finish first; each search is one component.
        constexpr size_t kNone = ~size_t(0);
        std::vector<size_t> component(n, kNone);
        for (auto it = finished.rbegin(); it != finished.rend(); ++it) {
            if (component[*it] != kNone) {
                continue;
            }
            std::vector<size_t> work{*it};
            component[*it] = *it;
            while (!work.empty()) {
                const size_t v = work.back();
                work.pop_back();
                for (const size_t w : in[v]) {
                    if (component[w] == kNone) {
                        component[w] = *it;
                        work.push_back(w);
                    }
                }
            }
        }
        return component;
    }

    // A literal alignment past 16 MiB, or a negative one, at the operand.
    void check_alignment(const std::vector<llvm::AsmToken>& s, size_t i) {
        const std::string name = s[i].getString().lower();
        const bool log2 = name.starts_with(".p2align") ||
                          (name == ".align" && !m_lexer.getMAI().getAlignmentIsInBytes());
        if ((!log2 && !name.starts_with(".balign") && name != ".align") || i + 1 >= s.size()) {
            return;
        }
        const llvm::AsmToken& value = s[i + 1];
        // A literal is the whole operand (`.align 25-1` is an expression, checked once parsed).
        const bool whole = i + 2 >= s.size() || s[i + 2].is(llvm::AsmToken::Comma);
        if (value.is(llvm::AsmToken::Minus)) {
            error(value.getLoc(),
                  fmt::format("'{} -': a negative alignment", s[i].getString().str()));
        } else if (value.is(llvm::AsmToken::Integer) && whole &&
                   (value.getAPIntVal().getActiveBits() > 64 ||
                    value.getAPIntVal().getZExtValue() >
                        (log2 ? uint64_t{kMaxAlignmentLog2} : kMaxAlignmentBytes))) {
            error(value.getLoc(),
                  fmt::format("'{} {}': an alignment past {} MiB, klpemu's limit",
                              s[i].getString().str(), value.getString().str(),
                              kMaxAlignmentBytes >> 20));
        }
    }

    // `.section .symtab` (or `.pushsection`): LLVM's writer would put its own table into it.
    void check_section_name(const std::vector<llvm::AsmToken>& s, size_t i) {
        const llvm::StringRef directive = s[i].getString();
        if ((!directive.equals_insensitive(".section") &&
             !directive.equals_insensitive(".pushsection")) ||
            i + 1 >= s.size()) {
            return;
        }
        const llvm::AsmToken& operand = s[i + 1];
        const llvm::StringRef name = operand.is(llvm::AsmToken::String)
                                         ? operand.getStringContents()
                                         : operand.getString();
        if (std::find(kWriterTables.begin(), kWriterTables.end(), name) != kWriterTables.end()) {
            error(operand.getLoc(),
                  fmt::format("section '{}' has the name of a table the ELF writer makes itself, "
                              "which would replace it; rename the section",
                              name.str()));
        }
    }

    // A cpp line marker (`# 12 "entry.S"`, what cpp leaves in a preprocessed .S): the line after
    // it is line 12 of entry.S, as LLVM's parser maps its own diagnostics.
    void note_line_marker(const std::vector<llvm::AsmToken>& s) {
        if (s.size() < 3 || !s[1].is(llvm::AsmToken::Integer) ||
            !s[2].is(llvm::AsmToken::String) || s[1].getAPIntVal().getActiveBits() > 31) {
            return;
        }
        m_marker = LineMarker{line_of(s[0].getLoc()), unsigned(s[1].getAPIntVal().getZExtValue()),
                              s[2].getStringContents().str()};
    }

    unsigned line_of(llvm::SMLoc at) const {
        return m_source_mgr.getLineAndColumn(at, m_source_mgr.getMainFileID()).first;
    }

    // Reported where the user's file has it: through the last cpp line marker, if any.
    void error(llvm::SMLoc at, const std::string& why) {
        llvm::SMDiagnostic d = m_source_mgr.GetMessage(at, llvm::SourceMgr::DK_Error, why);
        if (m_marker) {
            const unsigned line = m_marker->line + (line_of(at) - m_marker->buffer_line - 1);
            d = llvm::SMDiagnostic(m_source_mgr, d.getLoc(), m_marker->file, int(line),
                                   d.getColumnNo(), d.getKind(), d.getMessage(),
                                   d.getLineContents(), {});
        }
        m_errors.push_back(std::move(d));
    }

    struct MacroCall {
        std::string caller; // The macro whose body holds the call (lower case).
        std::string callee; // The name called (lower case; a macro or an instruction).
        bool in_repetition = false;
        llvm::SMLoc at;
    };

    struct LineMarker {
        unsigned buffer_line = 0; // The marker's own line in the buffer.
        unsigned line = 0;        // The line number it gives the next line.
        std::string file;
    };

    llvm::AsmLexer m_lexer;
    const llvm::SourceMgr& m_source_mgr;
    std::optional<LineMarker> m_marker;
    // The bodies LLVM would be collecting here: each one's literal count (1 when the count is
    // not a literal, and for `.irp`/`.irpc`), outermost first.
    std::vector<uint64_t> m_open_counts;
    std::vector<llvm::SMDiagnostic> m_errors;
    // The macro definition being read (outermost), and the calls its bodies make.
    unsigned m_macro_depth = 0;
    std::string m_macro;
    size_t m_macro_open_counts = 0; // m_open_counts.size() where its body began.
    std::unordered_map<std::string, size_t> m_macro_names; // Name -> index in the call graph.
    std::vector<MacroCall> m_macro_calls;
};

} // namespace

std::vector<llvm::SMDiagnostic> check_assembly_source(const llvm::MCAsmInfo& asm_info,
                                                      const llvm::SourceMgr& source_mgr) {
    return SourceScan(asm_info, source_mgr).run();
}

} // namespace klpemu
