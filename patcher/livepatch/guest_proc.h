// Engine procedures that call back into the guest. The kernel's livepatch core calls module
// code (klp_callbacks, shadow constructors) in the middle of its own C functions; klpemu's
// engine runs in host calls, which cannot start emulation. So each engine operation that may
// call the guest is a C++20 coroutine (GuestProc): `co_await GuestCall{...}` suspends it, the
// host call returns "call fn(a0, a1, a2)" to the guest's klp_api loop
// (guest/klp_support.S), and the next host call resumes the coroutine with the result.
// Procedures nest (`co_await other_proc()`); operations started while one waits for the guest
// (a callback calling klp_get_state) stack on top of it.
#pragma once

#include "emu/guest_addr.h"

#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <utility>

namespace klpemu::patcher::livepatch {

// A request to run guest code: fn(a0, a1, a2), its x0 returned to the procedure.
struct GuestCallRequest {
    GuestAddr fn;
    uint64_t a0 = 0, a1 = 0, a2 = 0;
};

// Where a suspended procedure chain parks its request and its resume point.
struct GuestCallSlot {
    std::optional<GuestCallRequest> request;
    std::coroutine_handle<> waiting;
    uint64_t result = 0;
};

class GuestProc {
  public:
    struct promise_type {
        int64_t value = 0;
        std::coroutine_handle<> continuation;
        GuestProc get_return_object() {
            return GuestProc(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        struct Final {
            bool await_ready() noexcept { return false; }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
                auto c = h.promise().continuation;
                return c ? c : std::noop_coroutine();
            }
            void await_resume() noexcept {}
        };
        Final final_suspend() noexcept { return {}; }
        void return_value(int64_t v) { value = v; }
        void unhandled_exception() { std::terminate(); }
    };

    GuestProc() = default;
    explicit GuestProc(std::coroutine_handle<promise_type> h) : m_h(h) {}
    GuestProc(GuestProc&& o) noexcept : m_h(std::exchange(o.m_h, {})) {}
    GuestProc& operator=(GuestProc&& o) noexcept {
        if (this != &o) {
            reset();
            m_h = std::exchange(o.m_h, {});
        }
        return *this;
    }
    GuestProc(const GuestProc&) = delete;
    GuestProc& operator=(const GuestProc&) = delete;
    ~GuestProc() { reset(); }

    // Awaiting a procedure runs it with the awaiter as its continuation.
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        m_h.promise().continuation = awaiting;
        return m_h;
    }
    int64_t await_resume() const noexcept { return m_h.promise().value; }

    // Driver side: start (first resume), done, value.
    void start() { m_h.resume(); }
    bool done() const { return !m_h || m_h.done(); }
    int64_t value() const { return m_h.promise().value; }

  private:
    void reset() {
        if (m_h) {
            m_h.destroy();
            m_h = {};
        }
    }
    std::coroutine_handle<promise_type> m_h;
};

// `co_await GuestCall{slot, request}`: park the request, suspend until the guest returned.
struct GuestCall {
    GuestCallSlot& slot;
    GuestCallRequest request;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept {
        slot.request = request;
        slot.waiting = h;
    }
    uint64_t await_resume() const noexcept { return slot.result; }
};

} // namespace klpemu::patcher::livepatch
