// Result<T>: the return type of every recoverable failure in klpemu (style.md §11): bad input,
// an out-of-range branch, an old-word mismatch. Errors carry a ready-to-print message in the
// objtool/compiler style ("file.S:3:7: error: ..." or "module.o: error: ...").
#pragma once

#include "emu/check.h"

#include <fmt/format.h>

#include <string>
#include <utility>
#include <variant>

namespace klpemu {

struct Error {
    std::string message;
    // The kernel errno the failure models (EBUSY, EINVAL, ...) when a caller plays a kernel
    // interface that returns one; 0 otherwise.
    int code = 0;
};

// Builds an Error from a fmt format string.
template <typename... Args> Error make_error(fmt::format_string<Args...> f, Args&&... args) {
    return Error{fmt::format(f, std::forward<Args>(args)...)};
}

template <typename T> class [[nodiscard]] Result {
  public:
    Result(T value) : m_v(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : m_v(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return m_v.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & {
        KLP_CHECK(ok(), "value() on error: {}", std::get<1>(m_v).message);
        return std::get<0>(m_v);
    }
    const T& value() const& {
        KLP_CHECK(ok(), "value() on error: {}", std::get<1>(m_v).message);
        return std::get<0>(m_v);
    }
    T&& value() && {
        KLP_CHECK(ok(), "value() on error: {}", std::get<1>(m_v).message);
        return std::get<0>(std::move(m_v));
    }
    const Error& error() const {
        KLP_CHECK(!ok(), "error() on a value");
        return std::get<1>(m_v);
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

  private:
    std::variant<T, Error> m_v;
};

template <> class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : m_error(std::move(error)), m_failed(true) {}

    bool ok() const { return !m_failed; }
    explicit operator bool() const { return ok(); }
    const Error& error() const {
        KLP_CHECK(m_failed, "error() on success");
        return m_error;
    }

  private:
    Error m_error;
    bool m_failed = false;
};

} // namespace klpemu

// Propagates an error from an expression returning Result<...>.
#define KLP_TRY(expr)                                                                              \
    do {                                                                                           \
        if (auto klp_try_result_ = (expr); !klp_try_result_.ok()) {                                \
            return klp_try_result_.error();                                                        \
        }                                                                                          \
    } while (0)

#define KLP_TRY_CONCAT_INNER_(a, b) a##b
#define KLP_TRY_CONCAT_(a, b) KLP_TRY_CONCAT_INNER_(a, b)

// Declares `auto name` holding the value of `expr` (a Result<T>), or returns its error from the
// enclosing function. One statement per line (the temporary is named after the line).
#define KLP_TRY_ASSIGN(name, expr)                                                                 \
    auto KLP_TRY_CONCAT_(klp_try_value_, __LINE__) = (expr);                                       \
    if (!KLP_TRY_CONCAT_(klp_try_value_, __LINE__).ok()) {                                         \
        return KLP_TRY_CONCAT_(klp_try_value_, __LINE__).error();                                  \
    }                                                                                              \
    auto name = std::move(*KLP_TRY_CONCAT_(klp_try_value_, __LINE__))
