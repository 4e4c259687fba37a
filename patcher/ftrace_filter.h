// ftrace filters: which functions an ops traces, as set_ftrace_filter takes them: function
// names or globs (`*`, `?`), several separated by spaces or commas. An empty filter matches
// every traceable function, as an ops with an empty filter hash does in the kernel.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace klpemu::patcher {

// True if `name` matches the glob `pattern` (`*` any run, `?` one character).
bool glob_match(std::string_view pattern, std::string_view name);

class FtraceFilter {
  public:
    FtraceFilter() = default;
    // Splits `text` on spaces and commas into globs.
    explicit FtraceFilter(std::string_view text);

    bool matches(std::string_view function) const;
    bool empty() const { return m_globs.empty(); }
    const std::vector<std::string>& globs() const { return m_globs; }

  private:
    std::vector<std::string> m_globs;
};

} // namespace klpemu::patcher
