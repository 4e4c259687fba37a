// Glob matching for ftrace filters (see ftrace_filter.h).
#include "patcher/ftrace_filter.h"

namespace klpemu::patcher {

bool glob_match(std::string_view pattern, std::string_view name) {
    // Iterative matcher with one backtrack point for the last `*`.
    size_t p = 0;
    size_t n = 0;
    size_t star = std::string_view::npos;
    size_t star_n = 0;
    while (n < name.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
            ++p;
            ++n;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            star_n = n;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            n = ++star_n;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') {
        ++p;
    }
    return p == pattern.size();
}

FtraceFilter::FtraceFilter(std::string_view text) {
    std::string current;
    for (char c : text) {
        if (c == ' ' || c == ',' || c == '\t') {
            if (!current.empty()) {
                m_globs.push_back(std::move(current));
                current.clear();
            }
            continue;
        }
        current.push_back(c);
    }
    if (!current.empty()) {
        m_globs.push_back(std::move(current));
    }
}

bool FtraceFilter::matches(std::string_view function) const {
    if (m_globs.empty()) {
        return true;
    }
    for (const std::string& glob : m_globs) {
        if (glob_match(glob, function)) {
            return true;
        }
    }
    return false;
}

} // namespace klpemu::patcher
