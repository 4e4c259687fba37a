// See line_table.h.
#include "emu/line_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace klpemu {

namespace {

// "vmlinux.c" names "/src/scenarios/livepatch/vmlinux.c"; "mlinux.c" does not.
bool names_file(std::string_view path, std::string_view file) {
    if (file.empty() || !path.ends_with(file)) {
        return false;
    }
    return path.size() == file.size() || file.front() == '/' ||
           path[path.size() - file.size() - 1] == '/';
}

} // namespace

Result<std::vector<GuestAddr>> addresses_for_line(std::span<const LineRow> rows,
                                                  std::string_view file, uint32_t line) {
    std::set<std::string_view> files;
    std::set<uint32_t> lines;
    std::vector<GuestAddr> out;
    bool wanted = false; // In a block of `line` that has no location yet.
    for (size_t i = 0; i < rows.size(); ++i) {
        const LineRow& r = rows[i];
        if (!names_file(r.file, file)) {
            wanted = false;
            continue;
        }
        files.insert(r.file);
        lines.insert(r.line);
        if (r.line != line) {
            wanted = false;
            continue;
        }
        const bool block_start = i == 0 || rows[i - 1].line != line || rows[i - 1].file != r.file ||
                                 rows[i - 1].object != r.object ||
                                 rows[i - 1].addr.value > r.addr.value;
        wanted |= block_start;
        if (wanted && r.is_stmt) {
            out.push_back(r.addr); // The block's first is_stmt row.
            wanted = false;
        }
    }
    if (files.empty()) {
        std::set<std::string_view> known; // Base names.
        for (const LineRow& r : rows) {
            const std::string_view path = r.file;
            const size_t slash = path.rfind('/');
            known.insert(slash == std::string_view::npos ? path : path.substr(slash + 1));
        }
        const std::string names = fmt::format("{}", fmt::join(known, ", "));
        return make_error("no line table for {}: {}", file,
                          names.empty() ? std::string("no loaded object has one (assembly and "
                                                      "objects compiled without -g carry none)")
                                        : "source files with line tables: " + names);
    }
    if (files.size() > 1) {
        return make_error("{} names {} files: {}; give more of the path", file, files.size(),
                          fmt::join(files, ", "));
    }
    if (out.empty()) {
        const auto after = lines.upper_bound(line);
        const auto before = lines.lower_bound(line);
        std::string nearest;
        if (before != lines.begin()) {
            nearest += fmt::format("{}", *std::prev(before));
        }
        if (after != lines.end()) {
            nearest += fmt::format("{}{}", nearest.empty() ? "" : " and ", *after);
        }
        return make_error("no code at {}:{} (nearest lines with code: {})", file, line, nearest);
    }
    std::sort(out.begin(), out.end(), [](GuestAddr a, GuestAddr b) { return a.value < b.value; });
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

} // namespace klpemu
