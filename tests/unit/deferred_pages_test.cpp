// DeferredPages: which pages of the kernel's memory the CPUs map (emu/deferred_pages.h).
#include "emu/deferred_pages.h"
#include "emu/guest_memory.h"

#include <doctest/doctest.h>

using namespace klpemu;
using emu::DeferredPages;
using emu::kPageSize;

namespace {

constexpr GuestAddr kBase{0xffff800008000000ULL};

GuestAddr page(int n) {
    return kBase + int64_t(uint64_t(n) * kPageSize);
}

GuestRange pages(int first, int end) {
    return GuestRange{page(first), page(end)};
}

} // namespace

TEST_CASE("nothing of the area is mapped at first; pages outside it count as mapped") {
    DeferredPages k;
    k.add_area(pages(0, 16));
    CHECK(k.mapped_pages() == 0);
    CHECK(!k.is_mapped(page(0)));
    CHECK(!k.is_mapped(page(15)));
    CHECK(k.is_mapped(page(16)));
    CHECK(k.is_mapped(kBase - int64_t(kPageSize)));
}

TEST_CASE("runs cut a range where mapped and unmapped pages meet") {
    DeferredPages k;
    k.add_area(pages(0, 16));
    k.mark_mapped(pages(2, 4));
    k.mark_mapped(pages(6, 7));
    CHECK(k.mapped_pages() == 3);
    const auto runs = k.runs(pages(1, 8));
    REQUIRE(runs.size() == 5);
    CHECK(runs[0].pages == pages(1, 2));
    CHECK(!runs[0].mapped);
    CHECK(runs[1].pages == pages(2, 4));
    CHECK(runs[1].mapped);
    CHECK(runs[2].pages == pages(4, 6));
    CHECK(!runs[2].mapped);
    CHECK(runs[3].pages == pages(6, 7));
    CHECK(runs[3].mapped);
    CHECK(runs[4].pages == pages(7, 8));
    CHECK(!runs[4].mapped);
}

TEST_CASE("a range reaching past the area is mapped beyond its end") {
    DeferredPages k;
    k.add_area(pages(0, 4));
    const auto runs = k.runs(pages(2, 6));
    REQUIRE(runs.size() == 2);
    CHECK(runs[0].pages == pages(2, 4));
    CHECK(!runs[0].mapped);
    CHECK(runs[1].pages == pages(4, 6));
    CHECK(runs[1].mapped);
}

TEST_CASE("an unmapped run never spans two areas: each has its own host buffer") {
    DeferredPages k;
    k.add_area(pages(0, 4));
    k.add_area(pages(4, 6)); // Adjacent: a module's init memory placed right after its core.
    CHECK(k.area_of(page(3))->end == page(4));
    CHECK(k.area_of(page(4))->begin == page(4));
    CHECK(k.area_of(page(6)) == nullptr);
    const auto runs = k.runs(pages(2, 7));
    REQUIRE(runs.size() == 3);
    CHECK(runs[0].pages == pages(2, 4));
    CHECK(!runs[0].mapped);
    CHECK(runs[1].pages == pages(4, 6));
    CHECK(!runs[1].mapped);
    CHECK(runs[2].pages == pages(6, 7));
    CHECK(runs[2].mapped);
    k.mark_mapped(pages(2, 4));
    k.mark_mapped(pages(4, 6));
    CHECK(k.mapped_pages() == 4);
    REQUIRE(k.runs(pages(2, 7)).size() == 1); // Mapped pages need no cut.
}
