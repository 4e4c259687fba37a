// Golden files and the unified diff (see golden.h). The diff is a plain LCS over lines:
// transcripts are a few hundred lines, so the quadratic table is cheap and the output matches
// `diff -u` closely enough for a reviewer's eye.
#include "scenarios/golden.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

namespace klpemu::scenario {

namespace fs = std::filesystem;

fs::path golden_path(const fs::path& scenario_file) {
    auto p = scenario_file;
    p.replace_extension(".expected");
    return p;
}

Result<std::optional<std::string>> read_golden(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        return std::optional<std::string>{};
    }
    if (fs::is_directory(path, ec)) {
        return make_error("{}: error: golden transcript is a directory, not a file", path.string());
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return make_error("{}: error: cannot read golden transcript", path.string());
    }
    std::ostringstream s;
    s << in.rdbuf();
    return std::optional<std::string>{s.str()};
}

Result<void> write_golden(const fs::path& path, std::string_view text) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        return make_error("{}: error: golden transcript is a directory, not a file", path.string());
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) {
        return make_error("{}: error: cannot write golden transcript", path.string());
    }
    return {};
}

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

enum class Op { Keep, Del, Add };
struct Edit {
    Op op;
    size_t a; // Index in expected (Keep, Del).
    size_t b; // Index in actual (Keep, Add).
};

std::vector<Edit> lcs_edits(const std::vector<std::string_view>& a,
                            const std::vector<std::string_view>& b) {
    const size_t n = a.size();
    const size_t m = b.size();
    std::vector<uint32_t> table((n + 1) * (m + 1), 0);
    auto at = [&](size_t i, size_t j) -> uint32_t& { return table[i * (m + 1) + j]; };
    for (size_t i = n; i-- > 0;) {
        for (size_t j = m; j-- > 0;) {
            at(i, j) = a[i] == b[j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
        }
    }
    std::vector<Edit> edits;
    size_t i = 0;
    size_t j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && a[i] == b[j]) {
            edits.push_back({Op::Keep, i++, j++});
        } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
            edits.push_back({Op::Del, i++, j}); // Deletions first, as diff -u prints them.
        } else {
            edits.push_back({Op::Add, i, j++});
        }
    }
    return edits;
}

std::string hunk_range(size_t start, size_t count) {
    if (count == 1) {
        return fmt::format("{}", start + 1);
    }
    return fmt::format("{},{}", count == 0 ? start : start + 1, count);
}

} // namespace

std::string unified_diff(std::string_view expected, std::string_view actual,
                         std::string_view expected_name, std::string_view actual_name,
                         int context) {
    if (expected == actual) {
        return {};
    }
    const auto a = split_lines(expected);
    const auto b = split_lines(actual);
    const auto edits = lcs_edits(a, b);
    std::string out = fmt::format("--- {}\n+++ {}\n", expected_name, actual_name);
    const size_t ctx = static_cast<size_t>(std::max(context, 0));
    size_t k = 0;
    while (k < edits.size()) {
        if (edits[k].op == Op::Keep) {
            ++k;
            continue;
        }
        // A hunk: from ctx lines before this change to ctx lines after the last change that
        // is at most 2*ctx unchanged lines away from the next.
        size_t first = k >= ctx ? k - ctx : 0;
        size_t last = k;
        size_t scan = k;
        while (scan < edits.size()) {
            if (edits[scan].op != Op::Keep) {
                last = scan;
                ++scan;
                continue;
            }
            size_t run = scan;
            while (run < edits.size() && edits[run].op == Op::Keep) {
                ++run;
            }
            if (run == edits.size() || run - scan > 2 * ctx) {
                break;
            }
            scan = run;
        }
        const size_t end = std::min(edits.size(), last + 1 + ctx);
        size_t a_count = 0;
        size_t b_count = 0;
        for (size_t e = first; e < end; ++e) {
            a_count += edits[e].op != Op::Add;
            b_count += edits[e].op != Op::Del;
        }
        out += fmt::format("@@ -{} +{} @@\n", hunk_range(edits[first].a, a_count),
                           hunk_range(edits[first].b, b_count));
        for (size_t e = first; e < end; ++e) {
            switch (edits[e].op) {
            case Op::Keep: out += fmt::format(" {}\n", a[edits[e].a]); break;
            case Op::Del: out += fmt::format("-{}\n", a[edits[e].a]); break;
            case Op::Add: out += fmt::format("+{}\n", b[edits[e].b]); break;
            }
        }
        k = end;
    }
    return out;
}

} // namespace klpemu::scenario
