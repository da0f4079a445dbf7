// SPDX-License-Identifier: MIT
// Tests for corio/latch.hpp: counting down, waiting, misuse, cancellation, two loops.
#include <corio/latch.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/loop_thread.hpp"

#include <chrono>
#include <stop_token>
#include <system_error>
#include <thread>

namespace {

using namespace std::chrono_literals;

TEST_CASE("count_down lowers the count to zero; going below zero is a usage error") {
    corio::latch l(2);
    CHECK_FALSE(l.try_wait());
    CHECK_THROWS_AS(l.count_down(3), corio::usage_error);
    l.count_down();
    CHECK_FALSE(l.try_wait());
    l.count_down();
    CHECK(l.try_wait());
    CHECK_THROWS_AS(l.count_down(), corio::usage_error);
    CHECK(corio::latch(0).try_wait());
    CHECK_THROWS_AS(corio::latch(-1), corio::usage_error);
}

corio::task<void> wait_and_count(corio::latch& l, int& resumed) {
    auto r = co_await l.wait();
    REQUIRE(r);
    ++resumed;
}

corio::task<int> count_down_to_zero(corio::latch& l, int& resumed) {
    corio::spawn(wait_and_count(l, resumed));
    corio::spawn(wait_and_count(l, resumed));
    co_await corio::yield{};
    l.count_down();
    co_await corio::yield{};
    const int before_zero = resumed;
    auto r = co_await l.arrive_and_wait();  // the last arrival: does not wait
    REQUIRE(r);
    co_await corio::yield{};
    co_return before_zero;
}

TEST_CASE("waiters resume when the count reaches zero, not before") {
    corio::runtime rt;
    corio::latch l(2);
    int resumed = 0;
    CHECK(rt.block_on(count_down_to_zero(l, resumed)) == 0);
    CHECK(resumed == 2);
}

corio::task<void> latch_error(corio::latch& l, std::error_code& out, std::stop_token t) {
    out = (co_await l.wait(std::move(t))).error();
}

corio::task<std::error_code> wait_with_timeout(corio::latch& l, std::error_code& inner) {
    auto r = co_await corio::with_timeout(0ms, latch_error(l, inner, {}));
    co_return r.error();
}

TEST_CASE("a latch wait is cancelled by its token and by with_timeout") {
    corio::runtime rt;
    corio::latch l(1);
    std::error_code inner;
    CHECK(rt.block_on(wait_with_timeout(l, inner)) == std::errc::timed_out);
    CHECK(inner == std::errc::operation_canceled);
    std::stop_source stop;
    stop.request_stop();
    std::error_code out;
    rt.block_on(latch_error(l, out, stop.get_token()));
    CHECK(out == std::errc::operation_canceled);
}

corio::task<void> count_down_on(corio::latch& l, int times) {
    for (int i = 0; i < times; ++i) {
        l.count_down();
        co_await corio::yield{};
    }
}

corio::task<std::thread::id> wait_for_other_loop(corio::latch& l) {
    auto r = co_await l.wait();
    REQUIRE(r);
    co_return std::this_thread::get_id();
}

TEST_CASE("a latch counted down on another loop resumes the waiter on its own loop") {
    corio::latch l(100);
    corio::runtime rt;  // before the loop_thread: see loop_thread.hpp
    corio_test::loop_thread other(count_down_on(l, 100));
    CHECK(rt.block_on(wait_for_other_loop(l)) == std::this_thread::get_id());
}

}  // namespace
