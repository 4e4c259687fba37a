// Assertions for klpemu's own bugs (style.md §11). They stay on in release builds: an emulator
// that silently continues from a broken invariant produces findings nobody can trust.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

namespace klpemu::detail {

[[noreturn]] inline void check_failed(const char* expr, const char* file, int line,
                                      const std::string& message) {
    std::fprintf(stderr, "klpemu: internal error: %s:%d: check '%s' failed%s%s\n", file, line,
                 expr, message.empty() ? "" : ": ", message.c_str());
    std::abort();
}

} // namespace klpemu::detail

// KLP_CHECK(cond) / KLP_CHECK(cond, "fmt {}", args...): abort with a message if cond is false.
#define KLP_CHECK(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) [[unlikely]] {                                                                \
            ::klpemu::detail::check_failed(#cond, __FILE__, __LINE__,                              \
                                           ::fmt::format("" __VA_ARGS__));                         \
        }                                                                                          \
    } while (0)

#define KLP_UNREACHABLE(...)                                                                       \
    ::klpemu::detail::check_failed("unreachable", __FILE__, __LINE__, ::fmt::format(__VA_ARGS__))
