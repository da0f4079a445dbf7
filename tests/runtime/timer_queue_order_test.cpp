// SPDX-License-Identifier: MIT
// Tests for corio::detail::timer_queue against a reference model (an ordered set): with many
// equal deadlines, busy wheel slots, and the earliest timer cancelled over and over, every
// expire() fires exactly the due timers in (deadline, insertion) order and next_deadline() is
// exact after every step.
#include <corio/detail/timer_queue.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace {

using corio::detail::timer_time;
using key = std::pair<timer_time, std::size_t>;  // (deadline, insertion number)
using corio::detail::timer_node;
using corio::detail::timer_queue;
using std::chrono::nanoseconds;
using namespace std::chrono_literals;

constexpr timer_time origin = timer_time{} + 1000h;

// A timer that appends its key to a shared log when it fires.
struct keyed : timer_node {
    std::size_t seq = 0;
    std::vector<key>* log = nullptr;
};

void log_key(timer_node* n) {
    auto* k = static_cast<keyed*>(n);
    k->log->push_back({k->deadline, k->seq});
}

// A queue, its timers and the model they are checked against.
struct harness {
    std::vector<key> fired;
    std::vector<keyed> timers;  // declared before q: it outlives the queue
    timer_queue q{origin};
    std::set<key> pending;
    std::size_t inserted = 0;
    timer_time now = origin;

    explicit harness(std::size_t count) : timers(count) {
        for (keyed& t : timers) {
            t.fire = log_key;
            t.log = &fired;
        }
    }

    void insert(keyed& t, timer_time deadline) {
        t.deadline = deadline;
        t.seq = inserted++;
        q.insert(t);
        pending.insert({t.deadline, t.seq});
    }

    void cancel(keyed& t) {
        if (t.linked()) {
            pending.erase({t.deadline, t.seq});
        }
        q.cancel(t);
    }

    // Expires at `to`; returns whether exactly the due timers fired, in model order.
    bool expire(timer_time to) {
        now = to;
        fired.clear();
        q.expire(now);
        const auto due = pending.upper_bound({now, inserted});
        const std::vector<key> expected(pending.begin(), due);
        pending.erase(pending.begin(), due);
        return fired == expected;
    }

    std::optional<timer_time> expected_next() const {
        return pending.empty() ? std::nullopt : std::optional<timer_time>(pending.begin()->first);
    }

    keyed* earliest() {
        for (keyed& t : timers) {
            if (t.linked() && t.deadline == pending.begin()->first &&
                t.seq == pending.begin()->second) {
                return &t;
            }
        }
        return nullptr;
    }
};

}  // namespace

TEST_CASE("timer_queue: equal deadlines keep insertion order in busy slots on every level",
          "[timer_queue]") {
    std::mt19937_64 rng(2024);
    harness h(3000);
    // Few distinct deadlines, from 1 ms to ~70 min, so that slots on levels 0 to 3 hold many
    // timers each, most of them tied with others inserted at other times.
    std::vector<timer_time> recent;
    for (int step = 0; step < 12'000; ++step) {
        keyed& t = h.timers[rng() % h.timers.size()];
        const auto action = rng() % 10;
        if (action < 5 && !t.linked()) {
            const bool tie = action < 3 && !recent.empty();
            const timer_time deadline =
                tie ? recent[rng() % recent.size()]
                    : h.now + nanoseconds(std::int64_t{1} << (20 + rng() % 22)) *
                                  static_cast<std::int64_t>(1 + rng() % 3);
            h.insert(t, deadline);  // a tie may be past: it fires at the next expire
            if (!tie) {
                recent.push_back(deadline);
                if (recent.size() > 40) {
                    recent.erase(recent.begin());
                }
            }
        } else if (action < 7) {
            h.cancel(t);
        } else if (action < 8 && !h.pending.empty()) {
            // The earliest timer leaves: its slot must find its new minimum.
            h.cancel(*h.earliest());
        } else if (action >= 8) {
            const auto step_bits = 20 + rng() % (action == 8 ? 8 : 22);
            REQUIRE(h.expire(h.now + nanoseconds(rng() & ((std::uint64_t{1} << step_bits) - 1))));
        }
        REQUIRE(h.q.size() == h.pending.size());
        REQUIRE(h.q.next_deadline() == h.expected_next());
    }
    REQUIRE(h.expire(timer_time::max()));
    REQUIRE(h.q.empty());
}

TEST_CASE("timer_queue: cancelling the earliest timer of a crowded far slot again and again",
          "[timer_queue]") {
    harness h(2000);
    std::mt19937_64 rng(7);
    // All in one level-2 slot (4.4 s to 8.2 s ahead), a quarter of them tied.
    const auto spread = [&rng] { return 4400ms + nanoseconds(rng() % 3'800'000'000); };
    for (std::size_t i = 0; i < h.timers.size(); ++i) {
        const auto offset = i % 4 == 0 ? nanoseconds(4400ms) : spread();
        h.insert(h.timers[i], origin + offset);
    }
    // The first cancel makes the slot scan for its minimum, the second sorts it; later ones
    // take the next in order. Inserts in between land in the now sorted slot.
    for (int round = 0; round < 300; ++round) {
        h.cancel(*h.earliest());
        REQUIRE(h.q.next_deadline() == h.expected_next());
        if (round % 3 == 0) {
            keyed* free_timer = nullptr;
            for (keyed& t : h.timers) {
                if (!t.linked()) {
                    free_timer = &t;
                    break;
                }
            }
            h.insert(*free_timer, origin + (round % 2 == 0 ? nanoseconds(4400ms) : spread()));
            REQUIRE(h.q.next_deadline() == h.expected_next());
        }
    }
    REQUIRE(h.expire(origin + 6s));
    REQUIRE(h.expire(origin + 9s));
    REQUIRE(h.q.empty());
}
