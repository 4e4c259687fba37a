// The checkpoint list of a stepping session (scenarios/step_checkpoints.h) as plain values: when
// the next checkpoint is due, which one a backward move starts from, and how the list is thinned
// past its bound so that the kept ones stay spread over the whole history. No process is
// forked here: descriptors are -1, so dropping one only forgets it.
#include "scenarios/step_checkpoints.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace klpemu::scenario;

namespace {

CheckpointStore store(uint64_t interval, size_t max) {
    CheckpointOptions o;
    o.interval = interval;
    o.max = max;
    return CheckpointStore(o);
}

} // namespace

TEST_CASE("step checkpoints: due once per interval, never in the first one") {
    CHECK(CheckpointStore().next_due(0) == UINT64_MAX); // Off.
    auto s = store(1000, 32);
    CHECK(s.next_due(0) == 1000);
    CHECK(s.next_due(1500) == 1500); // Inside an interval that has none: due now.
    s.add(Checkpoint{1008, 11, -1});
    CHECK(s.next_due(1009) == 2000);
    CHECK(s.next_due(0) == 2000);
    s.add(Checkpoint{2003, 12, -1});
    CHECK(s.next_due(1200) == 3000);
}

TEST_CASE("step checkpoints: a backward move starts from the nearest one at or before it") {
    auto s = store(1000, 32);
    for (uint64_t k = 1; k <= 5; ++k) {
        s.add(Checkpoint{k * 1000 + 8, int(k), -1});
    }
    CHECK_FALSE(s.at_or_before(1007).has_value());
    CHECK(s.at_or_before(1008)->clock == 1008);
    CHECK(s.at_or_before(3999)->clock == 3008);
    CHECK(s.at_or_before(99999)->clock == 5008);
    CHECK(s.before(3008)->clock == 2008); // reverse-continue: strictly before.
    CHECK_FALSE(s.before(1008).has_value());
    s.drop_after(3008);
    CHECK(s.list().size() == 3);
    CHECK(s.at_or_before(99999)->clock == 3008);
}

TEST_CASE("step checkpoints: past the bound they thin out evenly and keep the newest") {
    auto s = store(100, 8);
    for (uint64_t k = 1; k <= 100; ++k) {
        s.add(Checkpoint{k * 100, int(k), -1});
        REQUIRE(s.list().size() <= 8);
        CHECK(s.list().back().clock == k * 100); // The one just taken stays.
    }
    CHECK(s.taken() == 100);
    const auto& l = s.list();
    REQUIRE(l.size() == 8);
    CHECK(l.front().clock == 100);
    CHECK(l.back().clock == 10000);
    uint64_t smallest = UINT64_MAX;
    uint64_t largest = 0;
    for (size_t i = 1; i < l.size(); ++i) {
        smallest = std::min(smallest, l[i].clock - l[i - 1].clock);
        largest = std::max(largest, l[i].clock - l[i - 1].clock);
    }
    // Spread over the whole history, not bunched at either end.
    CHECK(largest <= 4 * smallest);
    CHECK(largest <= 3000);
    // One taken in the middle later (after going back) is kept too.
    s.add(Checkpoint{5050, 999, -1});
    CHECK(std::any_of(s.list().begin(), s.list().end(),
                      [](const Checkpoint& c) { return c.clock == 5050; }));
}
