// SPDX-License-Identifier: MIT
// Tests for corio/when_all.hpp: values in order, concurrency, the first exception, cancellation
// from the caller reaching every child, and frames that never outlive when_all.
#include <corio/when_all.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include "support/live_counter.hpp"
#include "support/task_outcome.hpp"

#include <chrono>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio_test::live_object;
using corio_test::what_it_threw;

corio::task<int> value_after_yields(int value, int yields, int& live) {
    live_object alive(live);
    for (int i = 0; i < yields; ++i) {
        co_await corio::yield{};
    }
    co_return value;
}

corio::task<std::string> text_now(std::string s) { co_return s; }

corio::task<void> nothing_after_yield(bool& ran) {
    co_await corio::yield{};
    ran = true;
}

corio::task<std::tuple<int, std::string, corio::void_result, int>> mixed(int& live, bool& ran) {
    // The first finishes last, the last first: results still come in argument order.
    co_return co_await corio::when_all(value_after_yields(1, 3, live), text_now("two"),
                                       nothing_after_yield(ran), value_after_yields(4, 0, live));
}

TEST_CASE("when_all returns every result in argument order, a task<void>'s as void_result") {
    corio::runtime rt;
    int live = 0;
    bool ran = false;
    auto [a, b, c, d] = rt.block_on(mixed(live, ran));
    CHECK(a == 1);
    CHECK(b == "two");
    CHECK(c == corio::void_result{});
    CHECK(d == 4);
    CHECK(ran);
    CHECK(live == 0);
}

corio::task<corio::result<void>> wait_for(corio::event& e) { co_return co_await e.wait(); }

corio::task<int> set_then(corio::event& e, int v) {
    e.set();
    co_return v;
}

corio::task<bool> waits_for_a_later_sibling() {
    corio::event e;
    // Awaited one after the other, the first would wait forever for the second.
    auto [waited, v] = co_await corio::when_all(wait_for(e), set_then(e, 7));
    co_return waited.has_value() && v == 7;
}

TEST_CASE("when_all runs its tasks concurrently: one may wait for what a later one does") {
    corio::runtime rt;
    CHECK(rt.block_on(waits_for_a_later_sibling()));
}

corio::task<std::vector<int>> range_of(int n, int& live) {
    std::vector<corio::task<int>> tasks;
    for (int i = 0; i < n; ++i) {
        tasks.push_back(value_after_yields(i * 10, n - i, live));
    }
    co_return co_await corio::when_all(std::move(tasks));
}

TEST_CASE("when_all of a vector returns the results in the vector's order") {
    corio::runtime rt;
    int live = 0;
    CHECK(rt.block_on(range_of(5, live)) == std::vector<int>{0, 10, 20, 30, 40});
    CHECK(live == 0);
}

corio::task<void> set_flag(bool& flag) {
    flag = true;
    co_return;
}

corio::task<bool> empty_range_without_suspending() {
    bool other_ran = false;
    corio::spawn(set_flag(other_ran));
    auto v = co_await corio::when_all(std::vector<corio::task<int>>{});
    CHECK(v.empty());
    auto t = co_await corio::when_all();
    CHECK(std::tuple_size_v<decltype(t)> == 0);
    co_return other_ran;  // had when_all suspended, the spawned task would have run
}

TEST_CASE("when_all of an empty vector (or of nothing) returns at once") {
    corio::runtime rt;
    CHECK_FALSE(rt.block_on(empty_range_without_suspending()));
}

// A child that waits for an event nobody sets: only cancellation ends it.
corio::task<int> wait_until_cancelled(corio::event& never, std::error_code& seen, bool& ended,
                                      int& live) {
    live_object alive(live);
    auto r = co_await never.wait();
    seen = r.error();
    ended = true;
    co_return 0;
}

corio::task<int> throw_after_yields(int yields, std::string what, int& live) {
    live_object alive(live);
    for (int i = 0; i < yields; ++i) {
        co_await corio::yield{};
    }
    throw std::runtime_error(what);
}

TEST_CASE("when_all rethrows the first exception once the others were cancelled and ended") {
    corio::runtime rt;
    corio::event never;
    int live = 0;
    std::error_code seen;
    bool ended = false;
    SECTION("tasks as arguments") {
        CHECK(rt.block_on(what_it_threw(
                  corio::when_all(wait_until_cancelled(never, seen, ended, live),
                                  throw_after_yields(3, "later", live),
                                  throw_after_yields(1, "first", live)))) == "first");
    }
    SECTION("a vector of tasks") {
        std::vector<corio::task<int>> tasks;
        tasks.push_back(throw_after_yields(2, "second", live));
        tasks.push_back(wait_until_cancelled(never, seen, ended, live));
        tasks.push_back(throw_after_yields(0, "at once", live));
        CHECK(rt.block_on(what_it_threw(corio::when_all(std::move(tasks)))) == "at once");
    }
    CHECK(ended);
    CHECK(seen == std::errc::operation_canceled);
    CHECK(live == 0);
}

corio::task<corio::result<void>> sleep_long(int& live) {
    live_object alive(live);
    co_return co_await corio::sleep_for(1h);
}

corio::task<void> stop_after_yield(std::stop_source& source) {
    co_await corio::yield{};
    source.request_stop();
}

using both_results = std::tuple<corio::result<void>, corio::result<void>>;

corio::task<both_results> both_stopped_by(std::stop_source& source, corio::event& never,
                                          int& live) {
    corio::spawn(stop_after_yield(source));
    co_return co_await corio::with_stop_token(source.get_token(),
                                              corio::when_all(sleep_long(live), wait_for(never)));
}

corio::task<corio::result<both_results>> both_timed_out(corio::event& never, int& live) {
    co_return co_await corio::with_timeout(1ms, corio::when_all(sleep_long(live), wait_for(never)));
}

TEST_CASE("cancelling when_all's caller cancels every task inside, and when_all awaits them") {
    corio::runtime rt;
    corio::event never;
    int live = 0;

    SECTION("the caller's token, given by with_stop_token, is stopped") {
        std::stop_source source;
        auto [slept, waited] = rt.block_on(both_stopped_by(source, never, live));
        CHECK(slept.error() == std::errc::operation_canceled);
        CHECK(waited.error() == std::errc::operation_canceled);
    }
    SECTION("with_timeout around when_all") {
        auto r = rt.block_on(both_timed_out(never, live));
        CHECK(r.error() == std::errc::timed_out);
    }
    CHECK(live == 0);
}

corio::task<both_results> stopped_from_a_thread(std::stop_source& source, corio::event& never,
                                                int& live) {
    std::thread stopper([&source] { source.request_stop(); });
    // Stopped before or after the tasks park, they end with operation_canceled either way.
    both_results r = co_await corio::with_stop_token(
        source.get_token(), corio::when_all(sleep_long(live), wait_for(never)));
    stopper.join();
    co_return r;
}

TEST_CASE("a stop of when_all's caller from another thread cancels the tasks on their loop") {
    corio::runtime rt;
    corio::event never;
    int live = 0;
    std::stop_source source;
    auto [slept, waited] = rt.block_on(stopped_from_a_thread(source, never, live));
    CHECK(slept.error() == std::errc::operation_canceled);
    CHECK(waited.error() == std::errc::operation_canceled);
    CHECK(live == 0);
}

corio::task<void> wait_forever_in_when_all(corio::event& never, int& live, bool& started) {
    started = true;
    (void)co_await corio::when_all(sleep_long(live), wait_for(never), sleep_long(live));
}

corio::task<void> yield_once() { co_await corio::yield{}; }

TEST_CASE("destroying a suspended when_all destroys its tasks' frames") {
    int live = 0;
    bool started = false;
    corio::event never;
    {
        corio::runtime rt;
        rt.spawn(wait_forever_in_when_all(never, live, started));
        rt.block_on(yield_once());
        REQUIRE(started);
        CHECK(live == 2);
    }
    CHECK(live == 0);
}

corio::task<int&> ref_to(int& x) { co_return x; }

corio::task<bool> references_stay_references() {
    int x = 1;
    auto [r] = co_await corio::when_all(ref_to(x));
    r = 2;
    co_return x == 2;
}

TEST_CASE("when_all passes a task<T&>'s reference through") {
    corio::runtime rt;
    CHECK(rt.block_on(references_stay_references()));
}

TEST_CASE("when_all of an empty or already awaited task is a usage_error at the call") {
    corio::task<int> empty;
    CHECK_THROWS_AS(corio::when_all(std::move(empty)), corio::usage_error);
    std::vector<corio::task<int>> tasks(2);
    CHECK_THROWS_AS(corio::when_all(std::move(tasks)), corio::usage_error);
}

}  // namespace
