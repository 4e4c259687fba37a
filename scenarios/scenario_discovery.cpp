// Scenario discovery (see scenario_discovery.h).
#include "scenarios/scenario_discovery.h"

#include <algorithm>

namespace klpemu::scenario {

namespace fs = std::filesystem;

std::optional<fs::path> bundled_library(const fs::path& exe) {
    std::error_code ec;
    const fs::path source = fs::path(KLPEMU_SOURCE_ROOT) / "scenarios";
    if (fs::is_directory(source, ec)) {
        return source;
    }
    if (!exe.empty()) {
        const auto installed = (exe.parent_path() / ".." / "share" / "klpemu" / "scenarios")
                                   .lexically_normal();
        if (fs::is_directory(installed, ec)) {
            return installed;
        }
    }
    return std::nullopt;
}

Result<std::vector<fs::path>> collect_scenarios(const std::vector<std::string>& args) {
    std::vector<fs::path> out;
    for (const auto& arg : args) {
        const fs::path p(arg);
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) {
            out.push_back(p);
            continue;
        }
        if (!fs::is_directory(p, ec)) {
            return make_error("{}: error: no such scenario file or directory", arg);
        }
        std::vector<fs::path> found;
        for (auto it = fs::recursive_directory_iterator(p, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_regular_file(ec) && it->path().extension() == ".toml") {
                found.push_back(it->path());
            }
        }
        if (ec) {
            return make_error("{}: error: cannot list directory: {}", arg, ec.message());
        }
        if (found.empty()) {
            return make_error("{}: error: no *.toml scenario files in this directory", arg);
        }
        std::sort(found.begin(), found.end());
        out.insert(out.end(), found.begin(), found.end());
    }
    return out;
}

} // namespace klpemu::scenario
