// SPDX-License-Identifier: MIT
// Tests for corio/semaphore.hpp: permits, FIFO hand-off, cancellation, two loops.
#include <corio/semaphore.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/event.hpp>
#include <corio/latch.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/loop_thread.hpp"

#include <atomic>
#include <chrono>
#include <stop_token>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;

TEST_CASE("try_acquire takes free permits; a permit gives itself back unless forgotten") {
    corio::semaphore s(2);
    auto a = s.try_acquire();
    auto b = s.try_acquire();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(s.try_acquire().error() == std::errc::resource_unavailable_try_again);
    a->release();
    CHECK(s.available() == 1);
    b->forget();
    CHECK(s.available() == 1);
    s.release(3);
    CHECK(s.available() == 4);
}

TEST_CASE("a semaphore holds up to max_permits permits; more is a usage_error") {
    corio::semaphore most(corio::semaphore::max_permits);
    CHECK(most.available() == corio::semaphore::max_permits);
    CHECK(most.try_acquire());
    CHECK_THROWS_AS(corio::semaphore(corio::semaphore::max_permits + 1), corio::usage_error);
}

corio::task<void> acquire_and_record(corio::semaphore& s, int id, std::vector<int>& order,
                                     corio::latch& done) {
    auto p = co_await s.acquire();
    REQUIRE(p);
    order.push_back(id);
    p->forget();
    done.count_down();
}

corio::task<bool> release_to_waiters(corio::semaphore& s, std::vector<int>& order) {
    corio::latch done(3);
    for (int id = 0; id < 3; ++id) {
        corio::spawn(acquire_and_record(s, id, order, done));
    }
    co_await corio::yield{};
    s.release(2);  // to the first two waiters, straight away
    const bool barged = static_cast<bool>(s.try_acquire());
    co_await corio::yield{};
    const bool third_waits = order.size() == 2;
    s.release(1);
    (void)co_await done.wait();
    co_return !barged && third_waits;
}

TEST_CASE("release hands permits to waiters in the order they came, with no barging") {
    corio::runtime rt;
    corio::semaphore s(0);
    std::vector<int> order;
    CHECK(rt.block_on(release_to_waiters(s, order)));
    CHECK(order == std::vector<int>{0, 1, 2});
    CHECK(s.available() == 0);
}

corio::task<void> acquire_error(corio::semaphore& s, std::error_code& out, std::stop_token token) {
    auto p = co_await s.acquire(std::move(token));
    out = p.error();
}

corio::task<void> cancel_a_waiter(corio::semaphore& s, std::error_code& out) {
    std::stop_source stop;
    corio::spawn(acquire_error(s, out, stop.get_token()));
    co_await corio::yield{};
    stop.request_stop();
    co_await corio::yield{};
}

TEST_CASE("a cancelled acquire takes no permit") {
    corio::runtime rt;
    corio::semaphore s(0);
    std::error_code out;
    rt.block_on(cancel_a_waiter(s, out));
    CHECK(out == std::errc::operation_canceled);
    s.release(1);  // the waiter left the "waiting" flag behind: this release clears it
    CHECK(s.available() == 1);
    CHECK(s.try_acquire());
}

corio::task<void> hold_forever(corio::semaphore& s, bool& got) {
    auto p = co_await s.acquire();
    got = true;
    corio::event never;
    (void)co_await never.wait();
}

corio::task<void> grant_then_stop(corio::runtime& rt, corio::semaphore& s, bool& got) {
    corio::spawn(hold_forever(s, got));
    co_await corio::yield{};
    s.release(1);  // granted to hold_forever, which has not run yet
    rt.stop();
    co_await corio::yield{};
}

TEST_CASE("a permit granted to a task destroyed before it ran is given back, not leaked") {
    corio::semaphore s(0);  // outlives the runtime
    bool got = false;
    {
        corio::runtime rt;
        CHECK_THROWS_AS(rt.block_on(grant_then_stop(rt, s, got)), std::system_error);
    }
    CHECK_FALSE(got);
    CHECK(s.available() == 1);
    CHECK(s.try_acquire());
}

corio::task<std::error_code> acquire_with_timeout(corio::semaphore& s, std::error_code& inner) {
    auto r = co_await corio::with_timeout(0ms, acquire_error(s, inner, {}));
    co_return r.error();
}

TEST_CASE("with_timeout cancels a waiting acquire through the ambient token") {
    corio::runtime rt;
    corio::semaphore s(0);
    std::error_code inner;
    CHECK(rt.block_on(acquire_with_timeout(s, inner)) == std::errc::timed_out);
    CHECK(inner == std::errc::operation_canceled);
}

// Keeps at most `limit` of `tasks` tasks inside at once, on this loop and another.
corio::task<void> bounded(corio::semaphore& s, std::atomic<int>& inside, std::atomic<int>& most,
                          int tasks) {
    corio::latch done(tasks);
    for (int i = 0; i < tasks; ++i) {
        corio::spawn([](corio::semaphore& sem, std::atomic<int>& in, std::atomic<int>& m,
                        corio::latch& d) -> corio::task<void> {
            auto p = co_await sem.acquire();
            const int now = in.fetch_add(1) + 1;
            int seen = m.load();
            while (now > seen && !m.compare_exchange_weak(seen, now)) {
            }
            co_await corio::yield{};
            in.fetch_sub(1);
            p->release();
            d.count_down();
        }(s, inside, most, done));
    }
    (void)co_await done.wait();
}

TEST_CASE("tasks on two loops never hold more permits than there are") {
    corio::semaphore s(3);
    std::atomic<int> inside{0};
    std::atomic<int> most{0};
    {
        corio::runtime rt;  // before the loop_thread: see loop_thread.hpp
        corio_test::loop_thread other(bounded(s, inside, most, 1'000));
        rt.block_on(bounded(s, inside, most, 1'000));
    }
    CHECK(most.load() <= 3);
    CHECK(most.load() >= 1);
    CHECK(s.available() == 3);
}

}  // namespace
