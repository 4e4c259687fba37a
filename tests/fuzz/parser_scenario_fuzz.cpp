// libFuzzer target for the scenario front end: TOML syntax (toml++) and the scenario parser
// (scenarios/scenario_parser.cpp) read untrusted text. Whatever the bytes, the parser returns
// a Scenario or an Error that names file:line; it never crashes, hangs or reads out of bounds.
// The input is parsed as if it were a file in scenarios/livepatch/, so that relative `source`
// paths of the seed corpus resolve to the bundled C and assembly files.
#include "scenarios/scenario_parser.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::filesystem::path file =
        std::filesystem::path(KLPEMU_SOURCE_ROOT) / "scenarios" / "livepatch" / "fuzz-input.toml";
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto scenario = klpemu::scenario::parse_scenario_text(text, file);
    if (!scenario) {
        // Every rejection is located: it names the file it was given (style: file:line).
        const std::string& message = scenario.error().message;
        KLP_CHECK(message.find("fuzz-input.toml") != std::string::npos,
                  "parser error without a location: {}", message);
    }
    return 0;
}
