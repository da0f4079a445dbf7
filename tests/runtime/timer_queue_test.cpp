// SPDX-License-Identifier: MIT
// Tests for corio::detail::timer_queue: firing order, cancellation, callbacks, exact deadlines.
#include <corio/detail/timer_queue.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace {

using corio::detail::timer_node;
using corio::detail::timer_queue;
using corio::detail::timer_time;
using std::chrono::nanoseconds;
using namespace std::chrono_literals;

// Far from the clock's epoch, so that deadlines before the queue's start are representable too.
constexpr timer_time origin = timer_time{} + 1000h;

struct fire_record {
    std::size_t id;
    timer_time deadline;
    timer_time now;     // the now of the expire() call that fired it
    std::size_t batch;  // which expire() call that was
};

// What one test saw: the timers that fired, in order, and the expire() call that fired them.
struct fire_log {
    timer_time now{};
    std::size_t batch = 0;
    std::vector<fire_record> fired;
};

// A timer that writes itself into a log when it fires; ids are given in insertion order.
struct probe : timer_node {
    std::size_t id = 0;
    fire_log* log = nullptr;
};

void record(timer_node* n) {
    auto* p = static_cast<probe*>(n);
    p->log->fired.push_back({p->id, p->deadline, p->log->now, p->log->batch});
}

std::vector<probe> make_probes(std::size_t count, fire_log& log) {
    std::vector<probe> probes(count);
    for (std::size_t i = 0; i < count; ++i) {
        probes[i].id = i;
        probes[i].log = &log;
        probes[i].fire = record;
    }
    return probes;
}

std::size_t expire_at(timer_queue& q, fire_log& log, timer_time now) {
    log.now = now;
    ++log.batch;
    return q.expire(now);
}

// Index of the first record that fired early, or out of (deadline, id) order within the batch of
// one expire() call; size() if none. Across calls a late insert may fire an earlier deadline.
std::size_t first_misordered(const std::vector<fire_record>& fired) {
    for (std::size_t i = 0; i < fired.size(); ++i) {
        const bool early = fired[i].deadline > fired[i].now;
        const bool same_batch = i > 0 && fired[i].batch == fired[i - 1].batch;
        const bool before_previous =
            same_batch &&
            (fired[i].deadline < fired[i - 1].deadline ||
             (fired[i].deadline == fired[i - 1].deadline && fired[i].id < fired[i - 1].id));
        if (early || before_previous) {
            return i;
        }
    }
    return fired.size();
}

std::vector<std::size_t> ids_of(const fire_log& log) {
    std::vector<std::size_t> ids;
    for (const fire_record& r : log.fired) {
        ids.push_back(r.id);
    }
    return ids;
}

// An offset of 0 to 2^max_bits ns whose bit length is uniform, so every wheel level gets timers.
nanoseconds log_uniform(std::mt19937_64& rng, unsigned max_bits) {
    const auto bits = std::uniform_int_distribution<unsigned>(0, max_bits)(rng);
    return nanoseconds(static_cast<std::int64_t>(rng() & ((std::uint64_t{1} << bits) - 1)));
}

// A timer whose callback records it, then cancels its victims, inserts its children and, with a
// period, re-inserts itself that much later.
struct scripted_probe : probe {
    timer_queue* queue = nullptr;
    std::vector<timer_node*> victims;
    std::vector<timer_node*> children;
    nanoseconds period{0};
};

void run_script(timer_node* n) {
    record(n);
    auto* self = static_cast<scripted_probe*>(n);
    for (timer_node* victim : self->victims) {
        self->queue->cancel(*victim);
    }
    for (timer_node* child : self->children) {
        self->queue->insert(*child);
    }
    if (self->period > nanoseconds(0)) {
        self->deadline += self->period;
        self->queue->insert(*self);
    }
}

scripted_probe make_scripted(std::size_t id, fire_log& log, timer_queue& q, timer_time deadline) {
    scripted_probe p;
    p.id = id;
    p.log = &log;
    p.fire = run_script;
    p.queue = &q;
    p.deadline = deadline;
    return p;
}

}  // namespace

TEST_CASE("timers fire in deadline order across every wheel level", "[timer_queue]") {
    std::mt19937_64 rng(12345);
    fire_log log;
    std::vector<probe> probes = make_probes(20'000, log);
    timer_queue q(origin);
    for (std::size_t i = 0; i < probes.size(); ++i) {
        // 0 ns to 2^46 ns (19.5 h), with some exact ties with an earlier timer.
        const bool tie = i > 0 && i % 10 == 0;
        probes[i].deadline = tie ? probes[i / 2].deadline : origin + log_uniform(rng, 46);
        q.insert(probes[i]);
    }
    for (unsigned bits = 0; bits <= 47; ++bits) {
        const timer_time now = origin + nanoseconds(std::int64_t{1} << bits);
        expire_at(q, log, now);
        const auto next = q.next_deadline();
        REQUIRE((!next || *next > now));
    }
    REQUIRE(q.empty());
    REQUIRE(log.fired.size() == probes.size());
    REQUIRE(first_misordered(log.fired) == log.fired.size());
}

TEST_CASE("timers with equal deadlines fire in insertion order", "[timer_queue]") {
    fire_log log;
    std::vector<probe> probes = make_probes(40, log);
    timer_queue q(origin);
    const timer_time deadline = origin + 5s;
    // Inserted while the wheel stands at different times, so the first ones cascade down
    // through the levels that later ones are filed on directly.
    for (std::size_t i = 0; i < 10; ++i) {
        probes[i].deadline = deadline;
        q.insert(probes[i]);
    }
    REQUIRE(expire_at(q, log, origin + 1s) == 0);
    for (std::size_t i = 10; i < 20; ++i) {
        probes[i].deadline = deadline;
        q.insert(probes[i]);
    }
    REQUIRE(expire_at(q, log, origin + 4990ms) == 0);
    for (std::size_t i = 20; i < 40; ++i) {
        probes[i].deadline = deadline;
        q.insert(probes[i]);
    }
    REQUIRE(expire_at(q, log, deadline) == 40);
    for (std::size_t i = 0; i < 40; ++i) {
        REQUIRE(log.fired[i].id == i);
    }
}

TEST_CASE("no timer fires before its deadline while time advances in small steps",
          "[timer_queue]") {
    std::mt19937_64 rng(777);
    fire_log log;
    std::vector<probe> probes = make_probes(3000, log);
    timer_queue q(origin);
    std::multiset<timer_time> pending;
    for (probe& p : probes) {
        const auto range = p.id < 2900 ? 300'000'000 : 10'000'000'000;  // 300 ms, some to 10 s
        p.deadline =
            origin + nanoseconds(std::uniform_int_distribution<std::int64_t>(0, range)(rng));
        q.insert(p);
        pending.insert(p.deadline);
    }
    for (timer_time now = origin; now < origin + 400ms; now += 37us) {
        const std::size_t due =
            static_cast<std::size_t>(std::distance(pending.begin(), pending.upper_bound(now)));
        REQUIRE(expire_at(q, log, now) == due);
        pending.erase(pending.begin(), pending.upper_bound(now));
        REQUIRE(q.size() == pending.size());
        REQUIRE_FALSE(pending.empty());  // some deadlines lie beyond the steps
        REQUIRE(q.next_deadline() == *pending.begin());
    }
    REQUIRE(first_misordered(log.fired) == log.fired.size());
}

TEST_CASE("a cancelled timer never fires", "[timer_queue]") {
    fire_log log;
    std::vector<probe> probes = make_probes(10, log);
    timer_queue q(origin);
    for (probe& p : probes) {
        p.deadline = origin + std::chrono::milliseconds(p.id * 700);  // level 0 up to level 2
        q.insert(p);
    }
    q.cancel(probes[0]);
    q.cancel(probes[3]);
    q.cancel(probes[9]);
    REQUIRE(q.size() == 7);
    REQUIRE_FALSE(probes[3].linked());
    REQUIRE(expire_at(q, log, origin + 1h) == 7);
    REQUIRE(ids_of(log) == std::vector<std::size_t>{1, 2, 4, 5, 6, 7, 8});
    REQUIRE(q.empty());
}

TEST_CASE("cancelling a node that is not linked does nothing", "[timer_queue]") {
    fire_log log;
    std::vector<probe> probes = make_probes(2, log);
    timer_queue q(origin);
    probes[0].deadline = origin + 1ms;
    q.insert(probes[0]);
    q.cancel(probes[1]);  // never inserted
    REQUIRE(q.size() == 1);
    REQUIRE(expire_at(q, log, origin + 1ms) == 1);
    q.cancel(probes[0]);  // already fired
    q.insert(probes[0]);
    q.cancel(probes[0]);
    q.cancel(probes[0]);  // already cancelled
    REQUIRE(q.empty());
    REQUIRE(q.next_deadline() == std::nullopt);
    REQUIRE(ids_of(log) == std::vector<std::size_t>{0});
}

TEST_CASE("a fire callback can cancel a timer due in the same batch", "[timer_queue]") {
    fire_log log;
    std::vector<probe> probes = make_probes(4, log);
    timer_queue q(origin);
    scripted_probe first = make_scripted(100, log, q, origin + 10ms);
    q.insert(first);
    probes[0].deadline = origin + 10ms;  // same deadline, next in line: cancelled
    probes[1].deadline = origin + 11ms;  // due in the same batch: cancelled
    probes[2].deadline = origin + 11ms;  // due in the same batch: fires
    probes[3].deadline = origin + 2s;    // due, on another level: cancelled
    for (probe& p : probes) {
        q.insert(p);
    }
    first.victims = {&probes[0], &probes[1], &probes[3], &first};
    REQUIRE(expire_at(q, log, origin + 1h) == 2);
    REQUIRE(ids_of(log) == std::vector<std::size_t>{100, 2});
    REQUIRE(q.empty());
}

TEST_CASE("a timer inserted by a fire callback with a due deadline fires in the same expire",
          "[timer_queue]") {
    fire_log log;
    std::vector<probe> probes = make_probes(3, log);
    timer_queue q(origin);
    scripted_probe parent = make_scripted(100, log, q, origin + 10ms);
    probes[0].deadline = origin + 5ms;   // already past
    probes[1].deadline = origin + 10ms;  // ties with its parent, inserted after it
    probes[2].deadline = origin + 2s;    // not yet due
    parent.children = {&probes[2], &probes[1], &probes[0]};
    q.insert(parent);
    REQUIRE(expire_at(q, log, origin + 1s) == 3);
    REQUIRE(ids_of(log) == std::vector<std::size_t>{100, 0, 1});
    REQUIRE(q.next_deadline() == origin + 2s);
}

TEST_CASE("a fire callback can re-insert its own timer", "[timer_queue]") {
    fire_log log;
    timer_queue q(origin);
    scripted_probe t = make_scripted(0, log, q, origin + 10ms);
    t.period = 10ms;
    q.insert(t);
    REQUIRE(expire_at(q, log, origin + 55ms) == 5);
    REQUIRE(first_misordered(log.fired) == log.fired.size());
    REQUIRE(q.next_deadline() == origin + 60ms);
    q.cancel(t);  // t dies before the queue, so it must leave it first
}

TEST_CASE("a million pending timers, half cancelled: the rest fire in deadline order",
          "[timer_queue]") {
    std::mt19937_64 rng(4242);
    std::uniform_int_distribution<std::int64_t> spread(0, 10'000'000'000);
    fire_log log;
    std::vector<probe> probes = make_probes(1'000'000, log);
    log.fired.reserve(probes.size() / 2);
    timer_queue q(origin);
    for (probe& p : probes) {
        p.deadline = origin + nanoseconds(spread(rng));
        q.insert(p);
    }
    REQUIRE(q.size() == probes.size());
    timer_time earliest_odd = timer_time::max();
    for (probe& p : probes) {
        if (p.id % 2 == 0) {
            q.cancel(p);
        } else {
            earliest_odd = std::min(earliest_odd, p.deadline);
        }
    }
    REQUIRE(q.size() == probes.size() / 2);
    REQUIRE(q.next_deadline() == earliest_odd);
    REQUIRE(expire_at(q, log, origin + 11s) == probes.size() / 2);
    REQUIRE(q.empty());
    REQUIRE(first_misordered(log.fired) == log.fired.size());
    std::size_t even_fired = 0;
    for (const fire_record& r : log.fired) {
        even_fired += r.id % 2 == 0 ? 1 : 0;
    }
    REQUIRE(even_fired == 0);
}

TEST_CASE("next_deadline is exact after any mix of inserts, cancels and expires", "[timer_queue]") {
    std::mt19937_64 rng(99);
    fire_log log;
    std::vector<probe> probes = make_probes(2000, log);
    timer_queue q(origin);
    std::set<std::pair<timer_time, std::size_t>> pending;  // the reference model
    std::size_t inserted = 0;  // becomes the id, so that ids stay in insertion order
    timer_time now = origin;
    for (int step = 0; step < 30'000; ++step) {
        probe& p = probes[rng() % probes.size()];
        const auto action = rng() % 8;
        if (action < 4 && !p.linked()) {
            // Mostly future deadlines on every level, sometimes one already past.
            p.deadline = action == 0 ? now - log_uniform(rng, 30) : now + log_uniform(rng, 42);
            p.id = inserted++;
            q.insert(p);
            pending.insert({p.deadline, p.id});
        } else if (action < 6) {
            q.cancel(p);
            pending.erase({p.deadline, p.id});
        } else {
            now += log_uniform(rng, action == 6 ? 24 : 38);
            const auto due = pending.upper_bound({now, inserted});
            REQUIRE(expire_at(q, log, now) ==
                    static_cast<std::size_t>(std::distance(pending.begin(), due)));
            pending.erase(pending.begin(), due);
        }
        REQUIRE(q.size() == pending.size());
        const auto expected =
            pending.empty() ? std::nullopt : std::optional<timer_time>(pending.begin()->first);
        REQUIRE(q.next_deadline() == expected);
    }
    REQUIRE(first_misordered(log.fired) == log.fired.size());
}

TEST_CASE("one expire that jumps hours fires everything due and nothing later", "[timer_queue]") {
    fire_log log;
    std::vector<probe> probes = make_probes(7, log);
    timer_queue q(origin);
    const timer_time deadlines[] = {origin + 1ms, origin + 1s, origin + 1min, origin + 1h,
                                    origin + 5h,  origin + 5h, origin + 10h};
    for (probe& p : probes) {
        p.deadline = deadlines[p.id];
        q.insert(p);
    }
    REQUIRE(expire_at(q, log, origin + 6h) == 6);
    REQUIRE(ids_of(log) == std::vector<std::size_t>{0, 1, 2, 3, 4, 5});
    REQUIRE(q.next_deadline() == origin + 10h);
    REQUIRE(expire_at(q, log, origin + 10h - 1ns) == 0);
    REQUIRE(expire_at(q, log, origin + 10h) == 1);
    REQUIRE(q.empty());
}

TEST_CASE("a timer inserted with a deadline already past fires at the next expire",
          "[timer_queue]") {
    fire_log log;
    std::vector<probe> probes = make_probes(4, log);
    timer_queue q(origin);
    REQUIRE(expire_at(q, log, origin + 1h) == 0);
    probes[0].deadline = origin + 1h;   // exactly now
    probes[1].deadline = origin + 1s;   // an hour ago
    probes[2].deadline = timer_time{};  // before the queue's start
    probes[3].deadline = origin + 1h + 1ns;
    for (probe& p : probes) {
        q.insert(p);
    }
    REQUIRE(q.next_deadline() == timer_time{});
    REQUIRE(expire_at(q, log, origin + 1h) == 3);
    REQUIRE(ids_of(log) == std::vector<std::size_t>{2, 1, 0});
    REQUIRE(q.next_deadline() == origin + 1h + 1ns);
}
