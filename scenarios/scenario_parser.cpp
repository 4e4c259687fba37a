// The scenario file schema (see scenario_parser.h and docs/scenario-format.md).
#include "scenarios/scenario_parser.h"

#include "emu/finding_kinds.h"
#include "emu/kernel_era.h"
#include "emu/machine.h"
#include "patcher/ftrace_source_kconfig.h"
#include "scenarios/action_table.h"
#include "scenarios/bundled_kernel.h"
#include "scenarios/known_names.h"
#include "scenarios/toml_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <set>
#include <sstream>

namespace klpemu::scenario {

namespace {

namespace fs = std::filesystem;

std::vector<std::string_view> names_of(std::span<const KnownName> names) {
    std::vector<std::string_view> out;
    for (const auto& n : names) {
        out.push_back(n.name);
    }
    return out;
}

// Reads one `[[name]]` array of tables; a plain `[name]` table or a value is an error.
Result<std::vector<const toml::table*>> array_of_tables(const toml::table& root,
                                                        std::string_view name,
                                                        const std::string& file) {
    std::vector<const toml::table*> out;
    const auto* n = root.get(name);
    if (!n) {
        return out;
    }
    const auto* arr = n->as_array();
    if (!arr) {
        return located_error(loc_of(n->source(), file),
                             fmt::format("'{}' must be an array of tables: write [[{}]], got {}",
                                         name, name, toml_type_name(*n)));
    }
    for (const auto& element : *arr) {
        const auto* t = element.as_table();
        if (!t) {
            return located_error(loc_of(element.source(), file),
                                 fmt::format("'{}' must be an array of tables: write [[{}]]", name,
                                             name));
        }
        out.push_back(t);
    }
    return out;
}

class Parser {
  public:
    Parser(std::string_view text, fs::path file, ParseOptions options)
        : m_text(text), m_file(std::move(file)), m_display(m_file.string()),
          m_options(std::move(options)) {}

    Result<Scenario> parse();

  private:
    Result<void> parse_scenario_table(const toml::table& root);
    Result<void> parse_machine(const toml::table& root);
    void warn_missing_era_features();
    Result<void> parse_ftrace_source(TableReader& r, const emu::KernelEraInfo& info);
    Result<void> parse_object(const toml::table& t, size_t index);
    Result<void> parse_task(const toml::table& t, size_t index);
    Result<void> parse_step(const toml::table& t, size_t index);
    Result<void> parse_expect(const toml::table& t, size_t index);
    Result<void> check_references();
    std::string padded_inline_source(const toml::node& value) const;

    std::string_view m_text;
    fs::path m_file;
    std::string m_display;
    ParseOptions m_options;
    Scenario m_s;
    std::vector<SourceLoc> m_task_cpu_locs;
};

Result<Scenario> Parser::parse() {
    toml::table root;
    try {
        root = toml::parse(m_text, m_display);
    } catch (const toml::parse_error& e) {
        return located_error(loc_of(e.source(), m_display),
                             fmt::format("TOML syntax: {}", e.description()));
    }
    m_s.file = m_file;
    m_s.name = m_file.stem().string();

    TableReader top(root, m_display, "the scenario file");
    static constexpr std::array k_top{std::string_view{"scenario"}, std::string_view{"machine"},
                                      std::string_view{"object"},   std::string_view{"task"},
                                      std::string_view{"step"},     std::string_view{"expect"}};
    KLP_TRY(top.reject_unknown_keys(k_top));
    KLP_TRY(parse_scenario_table(root));
    KLP_TRY(parse_machine(root));

    auto objects = array_of_tables(root, "object", m_display);
    KLP_TRY(objects);
    for (size_t i = 0; i < objects->size(); ++i) {
        KLP_TRY(parse_object(*(*objects)[i], i));
    }
    add_bundled_kernel(m_s);
    auto tasks = array_of_tables(root, "task", m_display);
    KLP_TRY(tasks);
    for (size_t i = 0; i < tasks->size(); ++i) {
        KLP_TRY(parse_task(*(*tasks)[i], i));
    }
    auto steps = array_of_tables(root, "step", m_display);
    KLP_TRY(steps);
    for (size_t i = 0; i < steps->size(); ++i) {
        KLP_TRY(parse_step(*(*steps)[i], i));
    }
    auto expects = array_of_tables(root, "expect", m_display);
    KLP_TRY(expects);
    for (size_t i = 0; i < expects->size(); ++i) {
        KLP_TRY(parse_expect(*(*expects)[i], i));
    }
    KLP_TRY(check_references());
    warn_missing_era_features();
    return std::move(m_s);
}

// A livepatch on a kernel without HAVE_LIVEPATCH runs (klpemu's engine does not care) but is a
// kernel that never existed: say so, like an explicit trampoline the era did not have.
void Parser::warn_missing_era_features() {
    const auto era = emu::parse_kernel_era(m_s.machine.kernel);
    KLP_CHECK(era.ok(), "kernel era '{}' was validated by parse_machine", m_s.machine.kernel);
    const emu::KernelEraInfo& info = emu::era_info(*era);
    const bool livepatch =
        std::any_of(m_s.objects.begin(), m_s.objects.end(),
                    [](const ObjectSpec& o) { return o.kind == ObjectKind::Livepatch; });
    if (livepatch && !info.has(emu::EraFeature::Livepatch)) {
        m_s.machine.era_warnings.push_back(
            fmt::format("kernel {} has no livepatch on arm64 (HAVE_LIVEPATCH is v6.17, "
                        "fd1e0fd71f65)",
                        info.name));
    }
}

Result<void> Parser::parse_scenario_table(const toml::table& root) {
    const auto* n = root.get("scenario");
    if (!n) {
        return {};
    }
    const auto* t = n->as_table();
    if (!t) {
        return located_error(loc_of(n->source(), m_display), "[scenario] must be a table");
    }
    TableReader r(*t, m_display, "[scenario]");
    static constexpr std::array k_keys{std::string_view{"name"}, std::string_view{"description"},
                                       std::string_view{"tags"}, std::string_view{"requires"}};
    KLP_TRY(r.reject_unknown_keys(k_keys));
    auto name = r.string("name");
    KLP_TRY(name);
    if (name->has_value()) {
        m_s.name = **name;
    }
    auto description = r.string("description");
    KLP_TRY(description);
    m_s.description = description->value_or("");
    auto tags = r.string_array("tags");
    KLP_TRY(tags);
    m_s.tags = std::move(*tags);
    auto requires_ = r.string_array("requires");
    KLP_TRY(requires_);
    for (const auto& feature : *requires_) {
        const auto features = known_features();
        const bool known = std::any_of(features.begin(), features.end(),
                                       [&](const Feature& f) { return f.name == feature; });
        if (!known) {
            return located_error(r.loc_of("requires"),
                                 fmt::format("[scenario] requires: unknown feature \"{}\"; "
                                             "expected one of: {}",
                                             feature, join_feature_names()));
        }
    }
    m_s.requires_features = std::move(*requires_);
    return {};
}

Result<void> Parser::parse_machine(const toml::table& root) {
    const auto* n = root.get("machine");
    const toml::table no_machine;
    if (!n && m_options.kernel.empty()) {
        return {};
    }
    // With a kernel override and no [machine] table, the era's defaults still apply.
    const auto* t = n ? n->as_table() : &no_machine;
    if (!t) {
        return located_error(loc_of(n->source(), m_display), "[machine] must be a table");
    }
    TableReader r(*t, m_display, "[machine]");
    static constexpr std::array k_keys{
        std::string_view{"cpus"},           std::string_view{"core"},
        std::string_view{"seed"},           std::string_view{"quantum"},
        std::string_view{"budget"},         std::string_view{"ftrace"},
        std::string_view{"unwinder"},       std::string_view{"module_init_ftrace_plt"},
        std::string_view{"erratum_843419"}, std::string_view{"policies"},
        std::string_view{"check_unwind"},   std::string_view{"cycles"},
        std::string_view{"stale_fetch"},    std::string_view{"kernel"},
        std::string_view{"ftrace_source"},  std::string_view{"kconfig"},
        std::string_view{"data_cache"},     std::string_view{"ftrace_source_edit"}};
    KLP_TRY(r.reject_unknown_keys(k_keys));
    auto& m = m_s.machine;

    auto cpus = r.integer("cpus");
    KLP_TRY(cpus);
    if (cpus->has_value()) {
        if (**cpus < 1 || **cpus > emu::kMaxCpus) {
            return located_error(r.loc_of("cpus"), fmt::format("[machine] cpus: expected 1 to {}, "
                                                               "got {}",
                                                               emu::kMaxCpus, **cpus));
        }
        m.cpus = static_cast<int>(**cpus);
    }
    const auto cores = names_of(known_cores());
    const auto variants = names_of(known_ftrace_variants());
    const auto unwinders = names_of(known_unwinders());
    auto core = r.one_of("core", cores);
    KLP_TRY(core);
    m.core = core->value_or(m.core);
    static constexpr std::array k_cycle_models{std::string_view{"fast"},
                                               std::string_view{"pipeline"}};
    auto cycles = r.one_of("cycles", k_cycle_models);
    KLP_TRY(cycles);
    m.cycles = cycles->value_or(m.cycles);
    auto data_cache = r.boolean("data_cache");
    KLP_TRY(data_cache);
    m.data_cache = data_cache->value_or(m.data_cache);
    auto kernel = r.string("kernel");
    KLP_TRY(kernel);
    auto era = emu::parse_kernel_era(
        m_options.kernel.empty() ? kernel->value_or(std::string(m.kernel)) : m_options.kernel);
    if (!era) {
        return located_error(r.loc_of("kernel"), fmt::format("[machine] {}", era.error().message));
    }
    const emu::KernelEraInfo& info = emu::era_info(*era);
    m.kernel = std::string(info.name);
    auto ftrace = r.one_of("ftrace", variants);
    KLP_TRY(ftrace);
    m.ftrace = ftrace->value_or(std::string(info.default_trampoline));
    auto unwinder = r.one_of("unwinder", unwinders);
    KLP_TRY(unwinder);
    m.unwinder = unwinder->value_or(std::string(info.default_unwinder));
    for (std::string warning : {emu::era_trampoline_mismatch(info, m.ftrace),
                                emu::era_unwinder_mismatch(info, m.unwinder)}) {
        if (!warning.empty()) {
            m.era_warnings.push_back(std::move(warning));
        }
    }
    static constexpr std::array k_policy_sets{std::string_view{"all"}};
    auto policies = r.one_of("policies", k_policy_sets);
    KLP_TRY(policies);
    m.policies = policies->value_or(m.policies);
    auto check_unwind = r.boolean("check_unwind");
    KLP_TRY(check_unwind);
    // Naming a policy (or the policy set) asks for the check; check_unwind = false vetoes it.
    m.check_unwind = check_unwind->value_or(unwinder->has_value() || policies->has_value());

    auto seed = r.unsigned_value("seed");
    KLP_TRY(seed);
    m.seed = seed->value_or(m.seed);
    // quantum and budget count instructions: 0 and negative values get the same message.
    auto positive = [&](std::string_view key, uint64_t& field) -> Result<void> {
        const toml::node* value = t->get(key);
        if (value && value->is_integer() && value->as_integer()->get() <= 0) {
            return located_error(r.loc_of(key),
                                 fmt::format("[machine] {}: expected a positive number of "
                                             "instructions, got {}",
                                             key, value->as_integer()->get()));
        }
        auto v = r.unsigned_value(key);
        KLP_TRY(v);
        field = v->value_or(field);
        return {};
    };
    KLP_TRY(positive("quantum", m.quantum));
    KLP_TRY(positive("budget", m.budget));
    auto init_plt = r.boolean("module_init_ftrace_plt");
    KLP_TRY(init_plt);
    m.module_init_ftrace_plt = init_plt->value_or(info.has(emu::EraFeature::ModuleInitFtracePlt));
    m.init_plt_brk = init_plt->has_value() && !**init_plt;
    if (init_plt->value_or(false) && !info.has(emu::EraFeature::ModuleInitFtracePlt)) {
        m.era_warnings.push_back(fmt::format("kernel {} has no init ftrace PLT (a7ed7b9d0ebb is "
                                             "v6.17-rc5)",
                                             info.name));
    }
    auto erratum = r.boolean("erratum_843419");
    KLP_TRY(erratum);
    m.erratum_843419 = erratum->value_or(m.erratum_843419);
    static constexpr std::array k_stale_fetch{std::string_view{"new"}, std::string_view{"old"}};
    auto stale_fetch = r.one_of("stale_fetch", k_stale_fetch);
    KLP_TRY(stale_fetch);
    m.stale_fetch = stale_fetch->value_or(m.stale_fetch);
    return parse_ftrace_source(r, info);
}

// `ftrace_source = "PATH"` (relative to the scenario), `kconfig = ["CONFIG_X=y", ...]` and
// `ftrace_source_edit = [" context", "-deleted", "+inserted"]`; the file itself is built (and
// the edit applied) when the machine starts, where its own FILE:LINE errors apply.
Result<void> Parser::parse_ftrace_source(TableReader& r, const emu::KernelEraInfo& info) {
    auto& m = m_s.machine;
    auto source = r.string("ftrace_source");
    KLP_TRY(source);
    auto kconfig = r.string_array("kconfig");
    KLP_TRY(kconfig);
    auto edit = r.string_array("ftrace_source_edit");
    KLP_TRY(edit);
    if (!source->has_value()) {
        if (!kconfig->empty() || !edit->empty()) {
            const char* key = kconfig->empty() ? "ftrace_source_edit" : "kconfig";
            return located_error(r.loc_of(key),
                                 fmt::format("[machine] {}: only applies with ftrace_source", key));
        }
        return {};
    }
    const fs::path rel(**source);
    m.ftrace_source =
        fs::absolute(rel.is_absolute() ? rel : m_file.parent_path() / rel).lexically_normal();
    std::error_code ec;
    if (!fs::is_regular_file(m.ftrace_source, ec)) {
        return located_error(
            r.loc_of("ftrace_source"),
            fmt::format("[machine] ftrace_source: no such file '{}'", m.ftrace_source.string()));
    }
    auto variant = patcher::parse_trampoline_variant(m.ftrace);
    KLP_CHECK(variant.ok(), "ftrace variant '{}' was validated above", m.ftrace);
    auto set = patcher::ftrace_source_kconfig(info, patcher::trampoline_layout(*variant), *kconfig);
    if (!set) {
        return located_error(r.loc_of(kconfig->empty() ? "ftrace_source" : "kconfig"),
                             fmt::format("[machine] {}", set.error().message));
    }
    m.kconfig = std::move(*kconfig);
    m.ftrace_source_edit = std::move(*edit);
    return {};
}

// Inline assembly padded with newlines so that the assembler's line numbers are the
// scenario file's: `asm = """` followed by a newline starts the text on the next line.
std::string Parser::padded_inline_source(const toml::node& value) const {
    const auto& begin = value.source().begin;
    size_t line_start = 0;
    for (uint32_t line = 1; line < begin.line && line_start != std::string_view::npos; ++line) {
        line_start = m_text.find('\n', line_start);
        line_start = line_start == std::string_view::npos ? line_start : line_start + 1;
    }
    uint32_t first_line = begin.line;
    if (line_start != std::string_view::npos) {
        const auto rest = m_text.substr(line_start + begin.column - 1);
        const auto eol = rest.find('\n');
        const auto head = rest.substr(0, eol);
        const bool multiline = head.starts_with("\"\"\"") || head.starts_with("'''");
        if (multiline && head.find_first_not_of(" \t\r", 3) == std::string_view::npos) {
            ++first_line;
        }
    }
    return std::string(first_line > 0 ? first_line - 1 : 0, '\n') +
           std::string(*value.value<std::string_view>());
}

Result<void> Parser::parse_object(const toml::table& t, size_t index) {
    TableReader r(t, m_display, fmt::format("[[object]] #{}", index + 1));
    static constexpr std::array k_keys{
        std::string_view{"name"},   std::string_view{"kind"},      std::string_view{"asm"},
        std::string_view{"source"}, std::string_view{"placement"}, std::string_view{"compiler"},
        std::string_view{"init_placement"}, std::string_view{"deferred"},
        std::string_view{"cflags"}};
    KLP_TRY(r.reject_unknown_keys(k_keys));
    ObjectSpec o;
    o.loc = r.loc();
    auto name = r.required_string("name");
    KLP_TRY(name);
    o.name = std::move(*name);

    static constexpr std::array k_kinds{std::string_view{"kernel"}, std::string_view{"module"},
                                        std::string_view{"livepatch"}};
    auto kind = r.one_of("kind", k_kinds);
    KLP_TRY(kind);
    if (!kind->has_value()) {
        return located_error(r.loc(), fmt::format("{}: missing required key 'kind' (one of: "
                                                  "kernel, module, livepatch)",
                                                  r.context()));
    }
    o.kind = **kind == "kernel"   ? ObjectKind::Kernel
             : **kind == "module" ? ObjectKind::Module
                                  : ObjectKind::Livepatch;

    if (r.has("asm") == r.has("source")) {
        return located_error(r.loc(), fmt::format("{} '{}': expected exactly one of 'asm' "
                                                  "(inline assembly) or 'source' (a .S, .c or .o "
                                                  "file)",
                                                  r.context(), o.name));
    }
    if (r.has("asm")) {
        auto text = r.string("asm");
        KLP_TRY(text);
        o.source_kind = SourceKind::InlineAsm;
        o.text = padded_inline_source(*r.node("asm"));
    } else {
        auto source = r.string("source");
        KLP_TRY(source);
        const fs::path rel(**source);
        const auto ext = rel.extension().string();
        if (ext == ".S" || ext == ".s") {
            o.source_kind = SourceKind::AsmFile;
        } else if (ext == ".c") {
            o.source_kind = SourceKind::CFile;
        } else if (ext == ".o") {
            o.source_kind = SourceKind::ObjectFile;
        } else {
            return located_error(r.loc_of("source"),
                                 fmt::format("{} source: expected a .S, .s, .c or .o file, got "
                                             "\"{}\"",
                                             r.context(), **source));
        }
        o.path = rel.is_absolute() ? rel : m_file.parent_path() / rel;
        std::error_code ec;
        if (!fs::is_regular_file(o.path, ec)) {
            return located_error(r.loc_of("source"),
                                 fmt::format("{} source: no such file \"{}\"", r.context(),
                                             o.path.lexically_normal().string()));
        }
        o.path = fs::absolute(o.path).lexically_normal();
    }

    static constexpr std::array k_compilers{std::string_view{"clang"}, std::string_view{"gcc"}};
    auto compiler = r.one_of("compiler", k_compilers);
    KLP_TRY(compiler);
    if (compiler->has_value()) {
        if (o.source_kind != SourceKind::CFile) {
            return located_error(r.loc_of("compiler"), fmt::format("{} compiler: only applies "
                                                                   "to a .c source",
                                                                   r.context()));
        }
        o.compiler = **compiler == "gcc" ? Compiler::Gcc : Compiler::Clang;
    }
    if (r.has("cflags")) {
        if (o.source_kind != SourceKind::CFile) {
            return located_error(r.loc_of("cflags"),
                                 fmt::format("{} cflags: only applies to a .c source", r.context()));
        }
        auto cflags = r.string_array("cflags");
        KLP_TRY(cflags);
        o.cflags = std::move(*cflags);
    }

    // "near", "far" or a page-aligned address, for the module memories.
    auto placement_of = [&](std::string_view key, Placement& where,
                            uint64_t& address) -> Result<void> {
        const auto* p = r.node(key);
        if (p == nullptr) {
            return {};
        }
        if (o.kind == ObjectKind::Kernel) {
            return located_error(r.loc_of(key),
                                 fmt::format("{} {}: the kernel has a fixed address; "
                                             "placement applies to modules and livepatches",
                                             r.context(), key));
        }
        const auto* s = p->as_string();
        if (s && (s->get() == "near" || s->get() == "far")) {
            where = s->get() == "near" ? Placement::Near : Placement::Far;
            return {};
        }
        auto addr = r.guest_value(key);
        if (!addr) {
            return located_error(r.loc_of(key),
                                 fmt::format("{} {}: expected \"near\", \"far\" or an address",
                                             r.context(), key));
        }
        where = Placement::Address;
        address = **addr;
        if (address % 4096 != 0) {
            return located_error(r.loc_of(key),
                                 fmt::format("{} {}: address {:#x} is not page aligned",
                                             r.context(), key, address));
        }
        return {};
    };
    KLP_TRY(placement_of("placement", o.placement, o.address));
    KLP_TRY(placement_of("init_placement", o.init_placement, o.init_address));
    auto deferred = r.boolean("deferred");
    KLP_TRY(deferred);
    o.deferred = deferred->value_or(false);
    if (o.deferred && o.kind == ObjectKind::Kernel) {
        return located_error(r.loc_of("deferred"),
                             fmt::format("{} deferred: only modules and livepatches are loaded "
                                         "by 'module load'",
                                         r.context()));
    }
    for (const auto& other : m_s.objects) {
        if (other.name == o.name) {
            return located_error(r.loc_of("name"), fmt::format("object '{}' is already defined "
                                                               "at {}",
                                                               o.name, other.loc.str()));
        }
    }
    m_s.objects.push_back(std::move(o));
    return {};
}

Result<void> Parser::parse_task(const toml::table& t, size_t index) {
    TableReader r(t, m_display, fmt::format("[[task]] #{}", index + 1));
    static constexpr std::array k_keys{std::string_view{"name"},   std::string_view{"kind"},
                                       std::string_view{"entry"},  std::string_view{"args"},
                                       std::string_view{"cpu"},    std::string_view{"repeat"},
                                       std::string_view{"loop"}};
    KLP_TRY(r.reject_unknown_keys(k_keys));
    TaskSpec task;
    auto name = r.required_string("name");
    KLP_TRY(name);
    task.name = std::move(*name);
    static constexpr std::array k_kinds{std::string_view{"kthread"}, std::string_view{"user"}};
    auto kind = r.one_of("kind", k_kinds);
    KLP_TRY(kind);
    task.kind = kind->value_or("kthread") == "user" ? TaskKind::User : TaskKind::Kthread;
    auto entry = r.required_string("entry");
    KLP_TRY(entry);
    task.entry = std::move(*entry);
    task.loc = r.loc_of("entry");
    auto args = r.arg_array("args");
    KLP_TRY(args);
    if (args->has_value()) {
        if ((*args)->size() > 8) {
            return located_error(r.loc_of("args"), fmt::format("{} args: at most 8 arguments "
                                                               "(x0-x7)",
                                                               r.context()));
        }
        task.args = std::move(**args);
    }
    auto cpu = r.integer("cpu");
    KLP_TRY(cpu);
    if (cpu->has_value()) {
        task.cpu = static_cast<int>(**cpu);
    }
    m_task_cpu_locs.push_back(r.loc_of("cpu"));
    auto repeat = r.unsigned_value("repeat");
    KLP_TRY(repeat);
    auto loop = r.boolean("loop");
    KLP_TRY(loop);
    if (repeat->has_value() && loop->value_or(false)) {
        return located_error(r.loc_of("loop"), fmt::format("{}: 'repeat' and 'loop = true' "
                                                           "exclude each other",
                                                           r.context()));
    }
    task.repeat = repeat->value_or(1);
    task.loop = loop->value_or(false);
    if (task.repeat == 0) {
        return located_error(r.loc_of("repeat"), fmt::format("{} repeat: expected at least 1",
                                                             r.context()));
    }
    for (const auto& other : m_s.tasks) {
        if (other.name == task.name) {
            return located_error(r.loc_of("name"),
                                 fmt::format("task '{}' is already defined", task.name));
        }
    }
    m_s.tasks.push_back(std::move(task));
    return {};
}

Result<void> Parser::parse_step(const toml::table& t, size_t index) {
    TableReader r(t, m_display, fmt::format("[[step]] #{}", index + 1));
    static constexpr std::array k_keys{std::string_view{"do"}, std::string_view{"at"},
                                       std::string_view{"when"}};
    KLP_TRY(r.reject_unknown_keys(k_keys));
    Step step;
    auto text = r.required_string("do");
    KLP_TRY(text);
    step.text = std::move(*text);
    step.loc = r.loc_of("do");
    // Point inside the string, at the action name, when the value is a one-line "...".
    step.loc.column += 1;
    auto action = parse_action(step.text);
    if (!action) {
        return located_error(step.loc, fmt::format("{} do: {}", r.context(),
                                                   action.error().message));
    }
    step.action = std::move(*action);
    if (r.has("at") && r.has("when")) {
        return located_error(r.loc_of("when"),
                             fmt::format("{}: 'at' and 'when' exclude each other", r.context()));
    }
    auto at = r.unsigned_value("at");
    KLP_TRY(at);
    if (at->has_value()) {
        step.trigger.kind = Trigger::Kind::AtInstruction;
        step.trigger.instruction = **at;
    }
    auto when = r.string("when");
    KLP_TRY(when);
    if (when->has_value()) {
        auto reach = parse_reach_point(**when);
        if (!reach) {
            return located_error(r.loc_of("when"), fmt::format("{} when: {}", r.context(),
                                                               reach.error().message));
        }
        step.trigger.kind = Trigger::Kind::WhenReaches;
        step.trigger.reach = std::move(*reach);
        step.trigger.loc = r.loc_of("when");
    }
    m_s.steps.push_back(std::move(step));
    return {};
}

Result<void> Parser::parse_expect(const toml::table& t, size_t index) {
    TableReader r(t, m_display, fmt::format("[[expect]] #{}", index + 1));
    static constexpr std::array k_keys{
        std::string_view{"call"},       std::string_view{"args"},        std::string_view{"returns"},
        std::string_view{"log"},        std::string_view{"no_log"},      std::string_view{"finding"},
        std::string_view{"no_finding"}, std::string_view{"where"},       std::string_view{"no_findings"},
        std::string_view{"instructions"}, std::string_view{"cycles"},    std::string_view{"message"}};
    KLP_TRY(r.reject_unknown_keys(k_keys));
    static constexpr std::array k_primary{
        std::string_view{"returns"},    std::string_view{"log"},         std::string_view{"no_log"},
        std::string_view{"finding"},    std::string_view{"no_finding"},  std::string_view{"no_findings"},
        std::string_view{"instructions"}, std::string_view{"cycles"}};
    std::vector<std::string_view> present;
    for (auto k : k_primary) {
        if (r.has(k)) {
            present.push_back(k);
        }
    }
    if (present.size() > 1) {
        return located_error(r.key_loc(present[1]),
                             fmt::format("{}: has both '{}' and '{}'; an [[expect]] checks one "
                                         "thing: split it into two",
                                         r.context(), present[0], present[1]));
    }
    if (present.empty()) {
        return located_error(r.loc(),
                             fmt::format("{}: expected exactly one of returns, log, no_log, "
                                         "finding, no_finding, no_findings, instructions, cycles",
                                         r.context()));
    }
    const auto primary = present[0];
    Expectation e;
    e.loc = r.key_loc(primary);
    auto only_with = [&](std::string_view key, std::string_view owner) -> Result<void> {
        const bool finding_filter = key == "where" || key == "message";
        if (r.has(key) && primary != owner && !(finding_filter && primary.ends_with("finding"))) {
            return located_error(r.key_loc(key), fmt::format("{}: '{}' only goes with '{}'",
                                                             r.context(), key, owner));
        }
        return {};
    };
    KLP_TRY(only_with("call", "returns"));
    KLP_TRY(only_with("args", "returns"));
    KLP_TRY(only_with("where", "finding"));
    KLP_TRY(only_with("message", "finding"));

    if (primary == "returns") {
        e.kind = ExpectKind::Returns;
        auto call = r.required_string("call");
        KLP_TRY(call);
        e.function = std::move(*call);
        auto args = r.arg_array("args");
        KLP_TRY(args);
        e.args = std::move(*args);
        auto value = r.guest_value("returns");
        KLP_TRY(value);
        e.value = **value;
    } else if (primary == "log" || primary == "no_log") {
        e.kind = primary == "log" ? ExpectKind::LogPresent : ExpectKind::LogAbsent;
        auto text = r.required_string(primary);
        KLP_TRY(text);
        e.text = std::move(*text);
    } else if (primary == "finding" || primary == "no_finding") {
        e.kind = primary == "finding" ? ExpectKind::FindingPresent : ExpectKind::FindingAbsent;
        auto kind = r.required_string(primary);
        KLP_TRY(kind);
        if (!is_finding_kind(*kind)) {
            return located_error(r.loc_of(primary),
                                 fmt::format("{} {}: unknown finding kind '{}'; known kinds: {}",
                                             r.context(), primary, *kind, known_finding_kinds()));
        }
        e.text = std::move(*kind);
        auto where = r.string("where");
        KLP_TRY(where);
        e.where = where->value_or("");
        auto message = r.string("message");
        KLP_TRY(message);
        e.message = message->value_or("");
    } else if (primary == "no_findings") {
        auto flag = r.boolean("no_findings");
        KLP_TRY(flag);
        if (!**flag) {
            return located_error(r.loc_of("no_findings"),
                                 fmt::format("{} no_findings: only 'no_findings = true' means "
                                             "something; remove the key instead",
                                             r.context()));
        }
        e.kind = ExpectKind::NoFindings;
    } else {
        e.kind = primary == "instructions" ? ExpectKind::InstructionWindow : ExpectKind::CycleWindow;
        auto window = r.window(primary);
        KLP_TRY(window);
        e.low = (*window)->first;
        e.high = (*window)->second;
    }
    m_s.expectations.push_back(std::move(e));
    return {};
}

Result<void> Parser::check_references() {
    const bool has_kernel = std::any_of(m_s.objects.begin(), m_s.objects.end(), [](const auto& o) {
        return o.kind == ObjectKind::Kernel;
    });
    if (!m_s.objects.empty() && !has_kernel) {
        return located_error(m_s.objects.front().loc,
                             "no [[object]] with kind = \"kernel\": modules need a kernel");
    }
    if (m_s.objects.empty() && (!m_s.tasks.empty() || !m_s.steps.empty())) {
        return located_error(SourceLoc{m_display, 1, 1},
                             "tasks and steps need code: add an [[object]] with kind = \"kernel\"");
    }
    std::set<std::string> task_names;
    for (size_t i = 0; i < m_s.tasks.size(); ++i) {
        const auto& task = m_s.tasks[i];
        task_names.insert(task.name);
        if (task.cpu && (*task.cpu < 0 || *task.cpu >= m_s.machine.cpus)) {
            return located_error(m_task_cpu_locs[i],
                                 fmt::format("task '{}' cpu: expected 0 to {} ([machine] cpus = "
                                             "{}), got {}",
                                             task.name, m_s.machine.cpus - 1, m_s.machine.cpus,
                                             *task.cpu));
        }
    }
    auto check_task = [&](const ReachPoint& reach, const SourceLoc& loc) -> Result<void> {
        if (!reach.task.empty() && !task_names.contains(reach.task)) {
            return located_error(loc, fmt::format("no task named '{}' (declare it in a [[task]])",
                                                  reach.task));
        }
        return {};
    };
    for (const auto& step : m_s.steps) {
        if (const auto* irq = std::get_if<IrqAction>(&step.action)) {
            if (irq->cpu >= m_s.machine.cpus) {
                return located_error(step.loc, fmt::format("irq: CPU {} does not exist "
                                                           "([machine] cpus = {})",
                                                           irq->cpu, m_s.machine.cpus));
            }
        }
        if (const auto* until = std::get_if<UntilAction>(&step.action)) {
            KLP_TRY(check_task(until->reach, step.loc));
        }
        if (step.trigger.kind == Trigger::Kind::WhenReaches) {
            KLP_TRY(check_task(step.trigger.reach, step.loc));
        }
    }
    return {};
}

} // namespace

Result<Scenario> parse_scenario_text(std::string_view text, const fs::path& file,
                                     const ParseOptions& options) {
    Parser parser(text, file, options);
    return parser.parse();
}

Result<Scenario> parse_scenario_file(const fs::path& file, const ParseOptions& options) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        return make_error("{}: error: cannot read scenario file", file.string());
    }
    std::ostringstream contents;
    contents << in.rdbuf();
    return parse_scenario_text(contents.str(), file, options);
}

} // namespace klpemu::scenario
