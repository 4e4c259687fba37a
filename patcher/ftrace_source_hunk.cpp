// A one-hunk edit of an entry-ftrace.S (ftrace_source_hunk.h): the broken variants of klpemu's
// kernel-style test trampoline are the good file plus one of these, so they cannot drift.
#include "patcher/ftrace_source_hunk.h"

#include <fmt/format.h>

namespace klpemu::patcher {
namespace {

// A line as it compares: blanks at either end dropped, each inner run of blanks one space.
std::string normalized(std::string_view line) {
    std::string out;
    bool blank = false;
    for (char c : line) {
        if (c == ' ' || c == '\t' || c == '\r') {
            blank = !out.empty();
            continue;
        }
        if (blank) {
            out += ' ';
            blank = false;
        }
        out += c;
    }
    return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start < text.size()) {
        const size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            lines.push_back(text.substr(start));
            break;
        }
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

} // namespace

Result<std::string> apply_source_hunk(std::string_view text, const std::vector<std::string>& hunk) {
    std::vector<std::string> old_lines; // Context and deleted, as they must match.
    for (const std::string& h : hunk) {
        if (h.empty() || (h[0] != ' ' && h[0] != '-' && h[0] != '+')) {
            return make_error(
                "edit line '{}': expected ' ' (context), '-' (delete) or '+' (insert) "
                "before the text",
                h);
        }
        if (h[0] != '+') {
            old_lines.push_back(normalized(std::string_view(h).substr(1)));
        }
    }
    if (old_lines.empty()) {
        return make_error("edit: no context or deleted line to find where it applies");
    }
    const std::vector<std::string_view> lines = split_lines(text);
    std::vector<size_t> matches;
    for (size_t at = 0; at + old_lines.size() <= lines.size(); ++at) {
        bool same = true;
        for (size_t k = 0; k < old_lines.size() && same; ++k) {
            same = normalized(lines[at + k]) == old_lines[k];
        }
        if (same) {
            matches.push_back(at);
        }
    }
    if (matches.size() != 1) {
        return make_error("edit: '{}' {}", old_lines.front(),
                          matches.empty()
                              ? std::string("is not in the file")
                              : fmt::format("matches at {} places (lines {} and {}); add context",
                                            matches.size(), matches[0] + 1, matches[1] + 1));
    }
    std::string out;
    const auto emit = [&](std::string_view line) {
        out.append(line);
        out += '\n';
    };
    for (size_t i = 0; i < matches[0]; ++i) {
        emit(lines[i]);
    }
    size_t next = matches[0];
    for (const std::string& h : hunk) {
        if (h[0] == '+') {
            // Not `"\t" + normalized(...)`: GCC 12 at -O2 reports a false -Wrestrict on it.
            out += '\t';
            emit(normalized(std::string_view(h).substr(1)));
        } else {
            if (h[0] == ' ') {
                emit(lines[next]);
            }
            ++next;
        }
    }
    for (size_t i = next; i < lines.size(); ++i) {
        emit(lines[i]);
    }
    return out;
}

} // namespace klpemu::patcher
