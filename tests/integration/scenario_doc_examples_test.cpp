// Every ```toml block in docs/scenario-format.md is an example users copy: each must parse, and
// each that loads code must run on the real machine and pass its expectations. The golden
// transcript is written to a scratch directory (the examples carry none).
#include "scenarios/machine_backend.h"
#include "scenarios/runner.h"
#include "scenarios/scenario_parser.h"
#include "support/temp_dir.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace klpemu::scenario;

namespace {

// RunOptions that rewrite the golden (a function: aggregate initialisation would warn on every
// field RunOptions gains).
RunOptions update_options() {
    RunOptions o;
    o.update_golden = true;
    return o;
}

struct Example {
    int line = 0; // Line of the opening fence in the document.
    std::string text;
};

std::vector<Example> toml_examples(const std::string& doc) {
    std::vector<Example> out;
    std::istringstream in(doc);
    std::string line;
    int number = 0;
    Example* open = nullptr;
    while (std::getline(in, line)) {
        ++number;
        if (!open && line == "```toml") {
            out.push_back(Example{number, {}});
            open = &out.back();
        } else if (open && line == "```") {
            open = nullptr;
        } else if (open) {
            open->text += line + "\n";
        }
    }
    return out;
}

} // namespace

TEST_CASE("every toml example in docs/scenario-format.md parses, and those with code pass") {
    const std::filesystem::path docs = std::filesystem::path(KLPEMU_SOURCE_ROOT) / "docs";
    std::ifstream in(docs / "scenario-format.md");
    REQUIRE(in);
    std::ostringstream doc;
    doc << in.rdbuf();
    const auto examples = toml_examples(doc.str());
    CHECK(examples.size() >= 7);

    klpemu::test::TempDir scratch;
    Runner runner(machine_backend_factory());
    int ran = 0;
    for (const auto& example : examples) {
        const auto name = "example-line-" + std::to_string(example.line);
        INFO("docs/scenario-format.md:", example.line);
        // Parsed as if it lived in docs/, so `source = "examples/..."` resolves there.
        auto parsed = parse_scenario_text(example.text, docs / (name + ".toml"));
        REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
        if (parsed->objects.empty()) {
            continue;
        }
        auto scenario = std::move(*parsed);
        scenario.file = scratch.path() / (name + ".toml");
        const auto result = runner.run(scenario, update_options());
        INFO(result.message);
        for (const auto& e : result.expectations) {
            INFO(e.text, ": ", e.detail);
            CHECK(e.passed);
        }
        CHECK(status_name(result.status) == std::string_view("pass"));
        ++ran;
    }
    CHECK(ran >= 5);
}
