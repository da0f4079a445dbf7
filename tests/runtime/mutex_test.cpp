// SPDX-License-Identifier: MIT
// Tests for corio/mutex.hpp: try_lock, FIFO hand-off, cancellation, teardown, two loops.
#include <corio/mutex.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/event.hpp>
#include <corio/latch.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <chrono>
#include <latch>
#include <optional>
#include <stop_token>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

TEST_CASE("try_lock takes a free mutex, fails while it is held, and the guard unlocks it") {
    corio::mutex m;
    auto g = m.try_lock();
    REQUIRE(g);
    CHECK(g->owns_lock());
    auto again = m.try_lock();
    CHECK(again.error() == std::errc::resource_unavailable_try_again);
    g->unlock();
    CHECK_FALSE(g->owns_lock());
    CHECK(m.try_lock());
}

// Locks, records its id, and signals `all_done` when it is the `total`-th.
corio::task<void> lock_and_record(corio::mutex& m, int id, std::vector<int>& order, int total,
                                  corio::event& all_done) {
    auto g = co_await m.lock();
    REQUIRE(g);
    order.push_back(id);
    if (static_cast<int>(order.size()) == total) {
        all_done.set();
    }
}

corio::task<bool> hand_off_to_waiters(corio::mutex& m, std::vector<int>& order, int total) {
    auto held = co_await m.lock();
    REQUIRE(held);
    corio::event all_done;
    for (int id = 0; id < total; ++id) {
        corio::spawn(lock_and_record(m, id, order, total, all_done));
    }
    co_await corio::yield{};  // every waiter is parked now
    held->unlock();
    // The lock went straight to the first waiter: a newcomer cannot take it.
    const bool barged = static_cast<bool>(m.try_lock());
    (void)co_await all_done.wait();
    co_return barged;
}

TEST_CASE("unlocking hands the mutex to 10,000 waiters in the order they came, with no barging") {
    corio::runtime rt;
    corio::mutex m;
    std::vector<int> order;
    constexpr int total = 10'000;
    CHECK_FALSE(rt.block_on(hand_off_to_waiters(m, order, total)));
    REQUIRE(order.size() == total);
    std::vector<int> expected(total);
    for (int i = 0; i < total; ++i) {
        expected[i] = i;
    }
    CHECK(order == expected);
    CHECK(m.try_lock());
}

corio::task<std::error_code> lock_error(corio::mutex& m, std::stop_token token) {
    auto g = co_await m.lock(std::move(token));
    co_return g.error();
}

corio::task<void> cancel_one_waiter(corio::mutex& m, std::vector<int>& order) {
    auto held = co_await m.lock();
    corio::event all_done;
    std::stop_source source;
    std::error_code cancelled_error;
    corio::spawn(lock_and_record(m, 1, order, 2, all_done));
    corio::spawn([](corio::mutex& mx, std::stop_token t, std::error_code& out) -> corio::task<void> {
        out = co_await lock_error(mx, std::move(t));
    }(m, source.get_token(), cancelled_error));
    corio::spawn(lock_and_record(m, 3, order, 2, all_done));
    co_await corio::yield{};
    source.request_stop();
    co_await corio::yield{};
    CHECK(cancelled_error == std::errc::operation_canceled);
    CHECK(order.empty());  // the cancelled waiter did not get the lock
    held->unlock();
    (void)co_await all_done.wait();
}

TEST_CASE("a cancelled lock leaves the queue without the lock; the others keep their turn") {
    corio::runtime rt;
    corio::mutex m;
    std::vector<int> order;
    rt.block_on(cancel_one_waiter(m, order));
    CHECK(order == std::vector<int>{1, 3});
    CHECK(m.try_lock());
}

corio::task<void> record_lock_error(corio::mutex& m, std::error_code& out) {
    auto g = co_await m.lock();
    out = g.error();
}

corio::task<std::error_code> lock_with_timeout(corio::mutex& m, std::error_code& inner) {
    auto held = co_await m.lock();
    auto r = co_await corio::with_timeout(0ms, record_lock_error(m, inner));
    co_return r.error();
}

TEST_CASE("with_timeout cancels a waiting lock through the ambient token") {
    corio::runtime rt;
    corio::mutex m;
    std::error_code inner;
    CHECK(rt.block_on(lock_with_timeout(m, inner)) == std::errc::timed_out);
    CHECK(inner == std::errc::operation_canceled);
    CHECK(m.try_lock());
}

corio::task<std::error_code> lock_with_stopped_token(corio::mutex& m) {
    auto held = co_await m.lock();
    std::stop_source source;
    source.request_stop();
    co_return co_await lock_error(m, source.get_token());
}

TEST_CASE("a lock with an already stopped token fails at once if the mutex is held") {
    corio::runtime rt;
    corio::mutex m;
    CHECK(rt.block_on(lock_with_stopped_token(m)) == std::errc::operation_canceled);
    std::stop_source source;
    source.request_stop();
    // A free mutex is taken even so: completing without waiting wins.
    CHECK(rt.block_on(lock_error(m, source.get_token())) == std::error_code{});
}

corio::task<void> hold_forever(corio::mutex& m, bool& got) {
    auto g = co_await m.lock();
    got = true;
    corio::event never;
    (void)co_await never.wait();
}

corio::task<void> grant_then_stop(corio::runtime& rt, corio::mutex& m, bool& got) {
    auto held = co_await m.lock();
    corio::spawn(hold_forever(m, got));
    co_await corio::yield{};
    held->unlock();  // granted to hold_forever, which has not run yet
    rt.stop();
    co_await corio::yield{};
}

TEST_CASE("a lock granted to a task destroyed before it ran is released, not leaked") {
    corio::mutex m;  // outlives the runtime
    bool got = false;
    {
        corio::runtime rt;
        CHECK_THROWS_AS(rt.block_on(grant_then_stop(rt, m, got)), std::system_error);
    }
    CHECK_FALSE(got);
    CHECK(m.try_lock());
}

corio::task<void> wait_on_this_loop(corio::mutex& m, std::latch& parked, std::thread::id& ran_on) {
    corio::spawn([](std::latch& l) -> corio::task<void> {
        l.count_down();  // runs once the lock below is parked
        co_return;
    }(parked));
    auto g = co_await m.lock();
    REQUIRE(g);
    ran_on = std::this_thread::get_id();
}

TEST_CASE("a guard released on another thread resumes the waiter on its own loop") {
    corio::runtime rt;
    corio::mutex m;
    auto held = m.try_lock();
    REQUIRE(held);
    std::latch parked(1);
    std::thread other([&] {
        parked.wait();
        held->unlock();
    });
    std::thread::id ran_on;
    rt.block_on(wait_on_this_loop(m, parked, ran_on));
    other.join();
    CHECK(ran_on == std::this_thread::get_id());
}

// Parks on the lock, then lets `other` grant it remotely and stop the runtime before this loop
// drains its remote queue: the frame is destroyed with its resume still queued there.
corio::task<void> lock_granted_remotely(corio::runtime& rt, corio::mutex& m,
                                        std::optional<corio::mutex::guard>& held) {
    corio::spawn([](corio::runtime& r, std::optional<corio::mutex::guard>& h) -> corio::task<void> {
        std::thread([&] {
            h.reset();  // grant: schedule_remote to this loop
            r.stop();
        }).join();
        co_return;
    }(rt, held));
    auto g = co_await m.lock();
    FAIL("the lock should never have been resumed");
}

corio::task<int> answer() { co_return 42; }

TEST_CASE("a task destroyed while its remote grant is queued leaves no dangling resume") {
    corio::mutex m;
    corio::runtime rt;
    std::optional<corio::mutex::guard> held = *m.try_lock();
    CHECK_THROWS_AS(rt.block_on(lock_granted_remotely(rt, m, held)), std::system_error);
    CHECK(m.try_lock());             // the abandoned grant was released
    CHECK(rt.block_on(answer()) == 42);  // drains the remote queue: the handle is gone from it
}

// One loop's share of the stress test: `tasks` tasks on this loop each add 1 to `counter`
// under the lock; counts `loops_done` down once they all have.
corio::task<void> contend(corio::mutex& m, long& counter, int tasks, corio::latch& loops_done) {
    int done = 0;  // this loop's tasks only: no lock needed
    corio::event all_done;
    for (int i = 0; i < tasks; ++i) {
        corio::spawn([](corio::mutex& mx, long& c, int id, int& d, int n,
                        corio::event& e) -> corio::task<void> {
            auto g = co_await mx.lock();
            const long seen = c;
            if (id % 4 == 0) {
                co_await corio::yield{};  // hold it across a suspension: others queue up
            }
            c = seen + 1;
            g->unlock();
            if (++d == n) {
                e.set();
            }
        }(m, counter, i, done, tasks, all_done));
    }
    (void)co_await all_done.wait();
    loops_done.count_down();
}

corio::task<void> contend_on_both_loops(corio::mutex& m, long& counter) {
    corio::latch loops_done(2);
    corio::spawn_on(0, contend(m, counter, 5'000, loops_done));
    corio::spawn_on(1, contend(m, counter, 5'000, loops_done));
    (void)co_await loops_done.wait();
}

TEST_CASE("10,000 tasks on two loops of one runtime contend one mutex: the counter is exact") {
    corio::mutex m;
    long counter = 0;
    {
        corio::runtime_options two_loops;  // g++ 12 -Wextra rejects {.threads = 2}
        two_loops.threads = 2;
        corio::runtime rt(two_loops);
        rt.block_on(contend_on_both_loops(m, counter));
    }
    CHECK(counter == 10'000);
    CHECK(m.try_lock());
}

// Waits on the lock with tokens that another thread stops while it locks and unlocks.
corio::task<void> lock_with_racing_stops(corio::mutex& m, std::vector<std::stop_source>& sources,
                                         int& granted, int& cancelled) {
    for (auto& s : sources) {
        auto g = co_await m.lock(s.get_token());
        if (g) {
            ++granted;
        } else if (g.error() == std::errc::operation_canceled) {
            ++cancelled;
        }
    }
}

TEST_CASE("stops racing grants from another thread: every wait ends once, no lock is lost") {
    corio::mutex m;
    constexpr int rounds = 2'000;
    std::vector<std::stop_source> sources(rounds);
    int granted = 0;
    int cancelled = 0;
    std::thread other([&] {
        for (int i = 0; i < rounds; ++i) {
            auto g = m.try_lock();
            if (i % 2 == 0) {
                sources[i].request_stop();  // before the unlock's grant...
            }
            if (g) {
                g->unlock();
            }
            if (i % 2 == 1) {
                sources[i].request_stop();  // ...or racing it
            }
        }
    });
    corio::runtime rt;
    rt.block_on(lock_with_racing_stops(m, sources, granted, cancelled));
    other.join();
    CHECK(granted + cancelled == rounds);
    CHECK(m.try_lock());
}

}  // namespace
