// SPDX-License-Identifier: MIT
// Tests for corio/cancel.hpp: with_timeout, the ambient stop token, with_stop_token,
// cancellation from a thread (with compositions: cancel_composition_test.cpp).
#include <corio/cancel.hpp>

#include <catch2/catch.hpp>

#include <corio/clock.hpp>
#include <corio/event.hpp>
#include <corio/io_handle.hpp>
#include <corio/result.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include "support/clock_steps.hpp"
#include "support/socket_pair.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace {

using namespace std::chrono_literals;
using corio::clock_type;
using corio_test::advance_in_steps;

corio::runtime_options with_clock(corio::manual_clock& clock) {
    corio::runtime_options options;
    options.clock = &clock;
    return options;
}

// What a sleep inside a with_timeout saw, and when.
struct inner_outcome {
    std::error_code error;
    clock_type::time_point woke{};
    bool finished = false;
};

corio::task<corio::result<void>> sleep_recording(corio::manual_clock& clock,
                                                 clock_type::duration d, inner_outcome& out) {
    auto r = co_await corio::sleep_for(d);
    out = {r.error(), clock.now(), true};
    co_return r;
}

struct timeout_outcome {
    std::error_code error;
    clock_type::time_point done{};
};

corio::task<timeout_outcome> timed_sleep(corio::manual_clock& clock, clock_type::duration limit,
                                         clock_type::duration sleep, inner_outcome& inner) {
    corio::result<void> r = co_await corio::with_timeout(limit, sleep_recording(clock, sleep, inner));
    co_return timeout_outcome{r.error(), clock.now()};
}

TEST_CASE("with_timeout of a sleep yields timed_out at the deadline and cancels the sleep") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    inner_outcome inner;
    rt.spawn(advance_in_steps(clock, 1ms, 100));
    const timeout_outcome out = rt.block_on(timed_sleep(clock, 10ms, 1h, inner));
    CHECK(out.error == std::errc::timed_out);
    CHECK(out.done - start == 10ms);
    REQUIRE(inner.finished);
    CHECK(inner.error == std::errc::operation_canceled);
    CHECK(inner.woke - start == 10ms);
}

TEST_CASE("with_timeout returns the inner result when the inner task finishes first") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    inner_outcome inner;
    rt.spawn(advance_in_steps(clock, 1ms, 100));
    const timeout_outcome out = rt.block_on(timed_sleep(clock, 10ms, 5ms, inner));
    CHECK_FALSE(out.error);
    CHECK(out.done - start == 5ms);
    CHECK_FALSE(inner.error);
}

corio::task<int> forty_two() { co_return 42; }

corio::task<void> nothing() { co_return; }

corio::task<bool> timeout_of_plain_values() {
    corio::result<int> v = co_await corio::with_timeout(1h, forty_two());
    corio::result<void> n = co_await corio::with_timeout(1h, nothing());
    // The longest limit means no limit (and does not overflow the deadline).
    corio::result<int> unlimited = co_await corio::with_timeout(clock_type::duration::max(),
                                                                forty_two());
    co_return v && *v == 42 && n && unlimited.value_or(0) == 42;
}

TEST_CASE("with_timeout wraps a plain value in a result when it comes in time") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    CHECK(rt.block_on(timeout_of_plain_values()));
}

corio::task<corio::result<std::size_t>> recv_into(corio::io_handle& h, std::span<std::byte> buf) {
    co_return co_await h.recv(buf);
}

// Sends data to the waiting receiver and moves the clock to its deadline in the same turn:
// the data is ready when the loop polls, and the deadline fires right after.
corio::task<void> send_then_reach_deadline(int fd, corio::manual_clock& clock,
                                           clock_type::duration d) {
    corio_test::send_text(fd, "just in time");
    clock.advance(d);
    co_return;
}

corio::task<corio::result<std::string>> recv_with_deadline(corio::manual_clock& clock, int peer,
                                                           int fd) {
    corio::io_handle h(fd);
    std::byte buf[64];
    corio::spawn(send_then_reach_deadline(peer, clock, 10ms));
    auto r = co_await corio::with_timeout(10ms, recv_into(h, buf));
    if (!r) {
        co_return r.error();
    }
    co_return corio_test::as_string({buf, *r});
}

TEST_CASE("with_timeout of a recv returns the data that arrived in the turn of the deadline") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    corio_test::socket_pair pair;
    auto r = rt.block_on(recv_with_deadline(clock, pair.fd(1), pair.take(0)));
    CHECK(clock.now() - start == 10ms);  // the deadline was reached
    REQUIRE(r);
    CHECK(*r == "just in time");
}

corio::task<corio::result<void>> nested_timeouts(corio::manual_clock& clock,
                                                 clock_type::duration outer,
                                                 clock_type::duration inner_limit,
                                                 inner_outcome& inner) {
    co_return co_await corio::with_timeout(
        outer, corio::with_timeout(inner_limit, sleep_recording(clock, 1h, inner)));
}

TEST_CASE("nested with_timeout ends at the earlier deadline with timed_out") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    const auto [outer, inner_limit, expected] = GENERATE(table<clock_type::duration,
        clock_type::duration, clock_type::duration>({{10ms, 30ms, 10ms}, {30ms, 10ms, 10ms},
                                                      {20ms, 20ms, 20ms}}));
    CAPTURE(outer.count(), inner_limit.count());
    inner_outcome inner;
    rt.spawn(advance_in_steps(clock, 1ms, 100));
    const corio::result<void> r = rt.block_on(nested_timeouts(clock, outer, inner_limit, inner));
    CHECK(r.error() == std::errc::timed_out);
    REQUIRE(inner.finished);
    CHECK(inner.error == std::errc::operation_canceled);
    CHECK(inner.woke - start == expected);
}

corio::task<corio::result<void>> await_sleeping_child(corio::manual_clock& clock,
                                                      inner_outcome& inner) {
    // No token is passed down: the child observes the ambient token of this task.
    co_return co_await sleep_recording(clock, 1h, inner);
}

corio::task<corio::result<void>> timeout_around_parent(corio::manual_clock& clock,
                                                       inner_outcome& inner) {
    co_return co_await corio::with_timeout(10ms, await_sleeping_child(clock, inner));
}

TEST_CASE("stopping a task's token cancels the waits of the tasks it awaits") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    inner_outcome inner;
    rt.spawn(advance_in_steps(clock, 1ms, 100));
    CHECK(rt.block_on(timeout_around_parent(clock, inner)).error() == std::errc::timed_out);
    REQUIRE(inner.finished);
    CHECK(inner.error == std::errc::operation_canceled);
    CHECK(inner.woke - start == 10ms);
}

corio::task<void> request_stop(std::stop_source& source) {
    source.request_stop();
    co_return;
}

corio::task<corio::result<void>> timeout_cancelled_by_caller(corio::manual_clock& clock,
                                                             std::stop_source& caller,
                                                             inner_outcome& inner) {
    corio::spawn(request_stop(caller));
    // Had the stop not reached the task, it would end at the 10 ms deadline with timed_out.
    corio::spawn(advance_in_steps(clock, 1ms, 100));
    co_return co_await corio::with_timeout(10ms, sleep_recording(clock, 2h, inner));
}

TEST_CASE("cancelling the caller of with_timeout cancels its task with operation_canceled") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    std::stop_source caller;
    const std::stop_token token = caller.get_token();
    inner_outcome inner;
    auto t = timeout_cancelled_by_caller(clock, caller, inner);
    // What a combinator does for the tasks it runs: give the task an ambient token.
    t.handle().promise().set_ambient_stop(&token);
    CHECK(rt.block_on(std::move(t)).error() == std::errc::operation_canceled);
    REQUIRE(inner.finished);
    CHECK(inner.error == std::errc::operation_canceled);
    CHECK(inner.woke - start < 10ms);
}

struct token_view {
    bool possible = false;
    bool requested = false;
};

corio::task<token_view> look_at_ambient_token() {
    std::stop_token t = co_await corio::this_task::stop_token();
    co_return token_view{t.stop_possible(), t.stop_requested()};
}

corio::task<token_view> look_after_cancelled_wait(corio::event& never) {
    std::stop_token t = co_await corio::this_task::stop_token();
    auto r = co_await never.wait();  // cancelled by the ambient token at the deadline
    CHECK(r.error() == std::errc::operation_canceled);
    co_return token_view{t.stop_possible(), t.stop_requested()};
}

corio::task<bool> ambient_tokens(corio::event& never) {
    const token_view top = co_await look_at_ambient_token();
    auto inside = co_await corio::with_timeout(1h, look_at_ambient_token());
    auto expired = co_await corio::with_timeout(5ms, look_after_cancelled_wait(never));
    CHECK_FALSE(top.possible);
    REQUIRE(inside);
    CHECK(inside->possible);
    CHECK_FALSE(inside->requested);
    // Non-result values are discarded once the deadline fired, as documented.
    CHECK(expired.error() == std::errc::timed_out);
    co_return true;
}

TEST_CASE("this_task::stop_token is empty at top level and with_timeout's token inside it") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    corio::event never;
    rt.spawn(advance_in_steps(clock, 1ms, 100));
    CHECK(rt.block_on(ambient_tokens(never)));
}

corio::task<void> wait_then_look(corio::event& never, std::error_code& error, token_view& seen) {
    std::stop_token t = co_await corio::this_task::stop_token();
    auto r = co_await never.wait();
    error = r.error();
    seen = {t.stop_possible(), t.stop_requested()};
}

corio::task<corio::result<void>> timed_wait_then_look(corio::event& never, std::error_code& error,
                                                      token_view& seen) {
    co_return co_await corio::with_timeout(5ms, wait_then_look(never, error, seen));
}

TEST_CASE("the ambient token inside with_timeout is stopped once the deadline passes") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    corio::event never;
    std::error_code error;
    token_view seen;
    rt.spawn(advance_in_steps(clock, 1ms, 100));
    auto r = rt.block_on(timed_wait_then_look(never, error, seen));
    CHECK(r.error() == std::errc::timed_out);
    CHECK(error == std::errc::operation_canceled);
    CHECK(seen.possible);
    CHECK(seen.requested);
}

// Starts the thread only once the waiter is parked: spawned tasks run after the caller suspends.
corio::task<void> start_stopper(std::optional<std::thread>& thread, std::stop_source& source) {
    thread.emplace([&source] { source.request_stop(); });
    co_return;
}

corio::task<std::error_code> event_wait_stopped_by_thread(std::optional<std::thread>& thread,
                                                          std::stop_source& source,
                                                          corio::event& never) {
    corio::spawn(start_stopper(thread, source));
    auto r = co_await never.wait(source.get_token());
    co_return r.error();
}

corio::task<std::error_code> sleep_stopped_by_thread(std::optional<std::thread>& thread,
                                                     std::stop_source& source) {
    corio::spawn(start_stopper(thread, source));
    auto r = co_await corio::sleep_for(1h, source.get_token());
    co_return r.error();
}

corio::task<std::error_code> timeout_stopped_by_thread(corio::manual_clock& clock,
                                                       std::optional<std::thread>& thread,
                                                       std::stop_source& source,
                                                       inner_outcome& inner) {
    corio::spawn(start_stopper(thread, source));
    auto r = co_await corio::with_timeout(1h, sleep_recording(clock, 2h, inner));
    co_return r.error();
}

TEST_CASE("a stop requested from another thread resumes the waiting task with operation_canceled") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    std::stop_source source;
    std::optional<std::thread> thread;
    corio::event never;

    SECTION("an event wait") {
        CHECK(rt.block_on(event_wait_stopped_by_thread(thread, source, never)) ==
              std::errc::operation_canceled);
    }
    SECTION("a sleep") {
        CHECK(rt.block_on(sleep_stopped_by_thread(thread, source)) ==
              std::errc::operation_canceled);
    }
    SECTION("a with_timeout whose caller's token is stopped") {
        const std::stop_token token = source.get_token();
        inner_outcome inner;
        auto t = timeout_stopped_by_thread(clock, thread, source, inner);
        t.handle().promise().set_ambient_stop(&token);
        CHECK(rt.block_on(std::move(t)) == std::errc::operation_canceled);
        CHECK(inner.error == std::errc::operation_canceled);
    }
    REQUIRE(thread);
    thread->join();
}

}  // namespace

namespace {

corio::task<timeout_outcome> timed_uncancellable_sleep(corio::manual_clock& clock,
                                                       clock_type::duration limit,
                                                       clock_type::duration sleep,
                                                       inner_outcome& inner) {
    corio::result<void> r = co_await corio::with_timeout(
        limit, corio::with_stop_token({}, sleep_recording(clock, sleep, inner)));
    co_return timeout_outcome{r.error(), clock.now()};
}

corio::task<corio::result<void>> sleep_following(std::stop_source& source, inner_outcome& inner,
                                                 corio::manual_clock& clock) {
    co_return co_await corio::with_stop_token(source.get_token(),
                                              sleep_recording(clock, 1h, inner));
}

corio::task<> stop_soon(std::stop_source& source) {
    co_await corio::yield();
    source.request_stop();
}

}  // namespace

TEST_CASE("with_stop_token with an empty token: a deadline of the caller does not cut the task's "
          "waits") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    inner_outcome inner;
    rt.spawn(advance_in_steps(clock, 1ms, 100));
    const timeout_outcome out = rt.block_on(timed_uncancellable_sleep(clock, 10ms, 30ms, inner));
    REQUIRE(inner.finished);
    CHECK_FALSE(inner.error);  // slept its whole 30 ms
    CHECK(inner.woke - start == 30ms);
    CHECK(out.done - start == 30ms);  // and the caller waited for it
}

TEST_CASE("with_stop_token: stopping the given token cancels the task's waits") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    std::stop_source source;
    inner_outcome inner;
    rt.spawn(stop_soon(source));
    const corio::result<void> r = rt.block_on(sleep_following(source, inner, clock));
    REQUIRE(inner.finished);
    CHECK(inner.error == std::errc::operation_canceled);
    CHECK(r.error() == std::errc::operation_canceled);
}
