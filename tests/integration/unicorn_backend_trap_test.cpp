// The backend's trap callback contract (emu/unicorn_backend.h): a client that moves PC inside the
// callback goes on at the new PC within the same run, and one that also asks for a stop gets the
// stop, with the new PC in place. On Unicorn 2.0.1 a PC write inside a hook silently cancels a
// uc_emu_stop of the same callback, so the backend holds the write until the callback returns;
// the machine runs every host call inside this callback (emu/machine_run.cpp, on_trap).
#include "emu/unicorn_backend.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

using namespace klpemu;
using namespace klpemu::emu;

namespace {

constexpr uint64_t kBase = 0x100000;
constexpr uint32_t kProgram[] = {
    0x91000400, // add x0, x0, #1
    0xd4000022, // hvc #1
    0x91000400, // add x0, x0, #1
    0xd4000042, // hvc #2
    0x91000400, // add x0, x0, #1
    0xd4200000, // brk #0
};

enum class OnHvc { MovePc, MovePcAndStop, SetStateAndStop };

struct Client final : BackendClient {
    UnicornBackend* backend = nullptr;
    OnHvc on_hvc = OnHvc::MovePc;
    std::vector<uint64_t> executed; // PCs whose code hook ran.
    int hvcs = 0;
    uint64_t pc_seen_after_write = 0;

    void on_code(uint64_t pc) noexcept override { executed.push_back(pc - kBase); }
    void on_trap(TrapKind kind, uint32_t) noexcept override {
        if (kind != TrapKind::Undefined) {
            backend->stop(); // The BRK that ends the program.
            return;
        }
        ++hvcs;
        const uint64_t next = backend->pc() + 4;
        if (on_hvc == OnHvc::SetStateAndStop) {
            CpuState s = backend->state();
            s.pc = next;
            s.x[5] = 55;
            backend->set_state(s);
        } else {
            backend->set_pc(next);
        }
        pc_seen_after_write = backend->state().pc;
        if (on_hvc != OnHvc::MovePc) {
            backend->stop();
        }
    }
    void on_mem_fault(MemAccess, bool, uint64_t, int) noexcept override {}
    void on_mem_write(uint64_t, int) noexcept override {}
    bool on_protected_write(uint64_t, int, uint64_t) noexcept override { return false; }
};

struct Page {
    uint8_t* p = static_cast<uint8_t*>(std::aligned_alloc(4096, 4096));
    ~Page() { std::free(p); }
};

std::unique_ptr<UnicornBackend> make_backend(Client& client, Page& page) {
    std::memset(page.p, 0, 4096);
    std::memcpy(page.p, kProgram, sizeof kProgram);
    auto b = UnicornBackend::create(BackendOptions{}, &client);
    REQUIRE(b.ok());
    client.backend = b->get();
    REQUIRE((*b)->map(GuestAddr(kBase), 4096, page.p, 5).ok());
    return std::move(*b);
}

} // namespace

TEST_CASE("unicorn backend: a PC write in the trap callback continues the same run") {
    Client client;
    Page page;
    auto b = make_backend(client, page);
    REQUIRE(b->run(GuestAddr(kBase)).ok());
    CHECK(client.hvcs == 2);
    CHECK(client.executed == std::vector<uint64_t>{0x0, 0x4, 0x8, 0xc, 0x10, 0x14});
    CHECK(b->x(0) == 3);
    CHECK(b->pc() == kBase + 0x14); // Stopped at the BRK.
}

TEST_CASE("unicorn backend: a stop in the trap callback holds after a PC write") {
    for (OnHvc how : {OnHvc::MovePcAndStop, OnHvc::SetStateAndStop}) {
        CAPTURE(int(how));
        Client client;
        client.on_hvc = how;
        Page page;
        auto b = make_backend(client, page);
        REQUIRE(b->run(GuestAddr(kBase)).ok());
        // The run ended at the first HVC; nothing at the new PC ran, but PC is there, and the
        // callback already read it back.
        CHECK(client.hvcs == 1);
        CHECK(client.pc_seen_after_write == kBase + 0x8);
        CHECK(client.executed == std::vector<uint64_t>{0x0, 0x4});
        CHECK(b->pc() == kBase + 0x8);
        CHECK(b->x(0) == 1);
        if (how == OnHvc::SetStateAndStop) {
            CHECK(b->x(5) == 55);
        }
        // Resuming goes on from there.
        REQUIRE(b->run(GuestAddr(b->pc())).ok());
        CHECK(client.hvcs == 2);
        CHECK(client.executed == std::vector<uint64_t>{0x0, 0x4, 0x8, 0xc});
        CHECK(b->pc() == kBase + 0x10);
    }
}
