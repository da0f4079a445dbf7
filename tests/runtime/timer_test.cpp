// SPDX-License-Identifier: MIT
// Tests for corio/timer.hpp: sleep_for and sleep_until on a manual clock, order, cancellation.
#include <corio/timer.hpp>

#include <catch2/catch.hpp>

#include <corio/clock.hpp>
#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/clock_steps.hpp"

#include <chrono>
#include <cstddef>
#include <stop_token>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::clock_type;
using corio_test::advance_in_steps;

corio::runtime_options with_clock(corio::manual_clock& clock) {
    corio::runtime_options options;
    options.clock = &clock;
    return options;
}

struct wake_record {
    int id;
    clock_type::time_point deadline;
    clock_type::time_point woke;
    bool ok;
};

// What the sleepers of one test saw; all_woke is set once `expected` of them have woken.
struct wake_log {
    std::vector<wake_record> records;
    std::size_t expected = 0;
    corio::event all_woke;

    void add(wake_record r) {
        records.push_back(r);
        if (records.size() == expected) {
            all_woke.set();
        }
    }
};

corio::task<void> sleeper(corio::manual_clock& clock, clock_type::duration delay, int id,
                          wake_log& log) {
    const auto deadline = clock.now() + delay;
    auto r = co_await corio::sleep_for(delay);
    log.add({id, deadline, clock.now(), r.has_value()});
}

corio::task<void> wait_all(corio::event& done) { (void)co_await done.wait(); }

TEST_CASE("sleeps on a manual clock fire in deadline order, none before its deadline") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    wake_log log;
    // Ties (ids 1 and 5) fire in the order they started sleeping.
    const std::vector<clock_type::duration> delays = {30ms, 10ms, 50ms, 20ms, 40ms, 10ms,
                                                      15500us, 1ms};
    for (std::size_t i = 0; i < delays.size(); ++i) {
        rt.spawn(sleeper(clock, delays[i], static_cast<int>(i), log));
    }
    log.expected = delays.size();
    rt.spawn(advance_in_steps(clock, 1ms, 60));
    rt.block_on(wait_all(log.all_woke));

    std::vector<int> order;
    for (const auto& w : log.records) {
        order.push_back(w.id);
        CAPTURE(w.id);
        CHECK(w.ok);
        CHECK(w.woke >= w.deadline);       // not early
        CHECK(w.woke - w.deadline < 1ms);  // at the first step that reached it
    }
    CHECK(order == std::vector<int>{7, 1, 5, 6, 3, 0, 4, 2});
    for (const auto& w : log.records) {
        if (w.id == 6) {
            CHECK(w.woke - start == 16ms);  // 15.5 ms: the first step at or after it
        }
    }
}

corio::task<void> sleep_until_and_record(corio::manual_clock& clock, clock_type::time_point when,
                                         wake_log& log) {
    auto r = co_await corio::sleep_until(when);
    log.add({0, when, clock.now(), r.has_value()});
}

TEST_CASE("sleep_until resumes at the deadline, not before") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto deadline = clock.now() + 25ms;
    wake_log log;
    log.expected = 1;
    rt.spawn(sleep_until_and_record(clock, deadline, log));
    rt.spawn(advance_in_steps(clock, 1ms, 40));
    rt.block_on(wait_all(log.all_woke));
    REQUIRE(log.records.size() == 1);
    CHECK(log.records[0].ok);
    CHECK(log.records[0].woke - deadline == 0ms);
}

corio::task<bool> sleep_until_past(corio::manual_clock& clock, bool& other_ran) {
    auto r = co_await corio::sleep_until(clock.now() - 1h);
    co_return r.has_value() && other_ran;
}

corio::task<void> set_flag(bool& flag) {
    flag = true;
    co_return;
}

corio::task<bool> spawn_then_sleep_until_past(corio::manual_clock& clock, bool& other_ran) {
    corio::spawn(set_flag(other_ran));
    co_return co_await sleep_until_past(clock, other_ran);
}

TEST_CASE("sleep_until a past deadline completes on the next turn without the clock moving") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    bool other_ran = false;
    // The spawned task runs before the sleep completes: the sleep did suspend for a turn.
    CHECK(rt.block_on(spawn_then_sleep_until_past(clock, other_ran)));
    CHECK(clock.now() - start == 0ms);
}

corio::task<bool> spawn_then_sleep_zero(bool& other_ran) {
    corio::spawn(set_flag(other_ran));
    auto r = co_await corio::sleep_for(0ms);
    co_return r.has_value() && other_ran;
}

corio::task<bool> spawn_then_sleep_negative(bool& other_ran) {
    corio::spawn(set_flag(other_ran));
    auto r = co_await corio::sleep_for(clock_type::duration::min());
    co_return r.has_value() && other_ran;
}

TEST_CASE("sleep_for(0) and negative delays wait for the next turn of the loop") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    bool other_ran = false;
    CHECK(rt.block_on(spawn_then_sleep_zero(other_ran)));
    other_ran = false;
    CHECK(rt.block_on(spawn_then_sleep_negative(other_ran)));
}

// Stops `source` 3 ms in, then keeps the clock moving so that a sleep the stop failed to
// cancel would end at its deadline (and fail the test) rather than hang.
corio::task<void> stop_after_3ms(corio::manual_clock& clock, std::stop_source& source) {
    (void)co_await corio::sleep_for(0ms);  // the sleeper starts first
    clock.advance(3ms);
    (void)co_await corio::sleep_for(0ms);
    source.request_stop();
    (void)co_await corio::sleep_for(0ms);  // the cancelled sleeper runs before the next step
    co_await advance_in_steps(clock, 1ms, 20);
}

struct sleep_outcome {
    std::error_code error;
    clock_type::time_point woke;
};

corio::task<sleep_outcome> sleep_with_token(corio::manual_clock& clock, clock_type::duration d,
                                            std::stop_token token) {
    auto r = co_await corio::sleep_for(d, std::move(token));
    co_return sleep_outcome{r.error(), clock.now()};
}

TEST_CASE("a sleep whose stop token fires resumes with operation_canceled before its deadline") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    std::stop_source source;
    rt.spawn(stop_after_3ms(clock, source));
    const sleep_outcome out = rt.block_on(sleep_with_token(clock, 10ms, source.get_token()));
    CHECK(out.error == std::errc::operation_canceled);
    CHECK(out.woke - start == 3ms);
}

corio::task<bool> spawn_then_sleep_stopped(std::stop_token token, bool& other_ran,
                                           std::error_code& error) {
    corio::spawn(set_flag(other_ran));
    auto r = co_await corio::sleep_for(1h, std::move(token));
    error = r.error();
    co_return other_ran;
}

TEST_CASE("a sleep with an already stopped token completes at once with operation_canceled") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    std::stop_source source;
    source.request_stop();
    bool other_ran = false;
    std::error_code error;
    // Had the sleep suspended even for one turn, the spawned task would have run first.
    CHECK_FALSE(rt.block_on(spawn_then_sleep_stopped(source.get_token(), other_ran, error)));
    CHECK(error == std::errc::operation_canceled);
}

corio::task<bool> sleep_forever_cancelled(std::stop_source& source) {
    auto r = co_await corio::sleep_for(clock_type::duration::max(), source.get_token());
    co_return r.error() == std::errc::operation_canceled;
}

corio::task<void> request_stop(std::stop_source& source) {
    source.request_stop();
    co_return;
}

corio::task<bool> spawn_stop_then_sleep_forever(std::stop_source& source) {
    corio::spawn(request_stop(source));
    co_return co_await sleep_forever_cancelled(source);
}

TEST_CASE("a sleep for the longest duration waits until cancelled") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    std::stop_source source;
    CHECK(rt.block_on(spawn_stop_then_sleep_forever(source)));
}

struct many_sleeps {
    std::size_t fired = 0;
    std::size_t failed = 0;
    std::size_t off_deadline = 0;  // woke at another time than its deadline
    std::size_t out_of_order = 0;  // woke after a sleep with a later deadline
    clock_type::time_point last_deadline{};
    std::size_t total = 0;
    corio::event all_done;
};

corio::task<void> counted_sleep(corio::manual_clock& clock, clock_type::duration d,
                                many_sleeps& s) {
    const auto deadline = clock.now() + d;
    auto r = co_await corio::sleep_for(d);
    s.failed += r ? 0 : 1;
    s.off_deadline += clock.now() == deadline ? 0 : 1;
    s.out_of_order += deadline < s.last_deadline ? 1 : 0;
    s.last_deadline = deadline;
    if (++s.fired == s.total) {
        s.all_done.set();
    }
}

TEST_CASE("a million pending sleeps all fire, each at its deadline, in deadline order") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    many_sleeps s;
    s.total = 1'000'000;
    for (std::size_t i = 0; i < s.total; ++i) {
        // Delays of 1..1000 ms in a scrambled order (7919 is prime, so all values appear).
        rt.spawn(counted_sleep(clock, std::chrono::milliseconds((i * 7919) % 1000 + 1), s));
    }
    rt.spawn(advance_in_steps(clock, 1ms, 1001));
    rt.block_on(wait_all(s.all_done));
    CHECK(s.fired == s.total);
    CHECK(s.failed == 0);
    CHECK(s.off_deadline == 0);
    CHECK(s.out_of_order == 0);
}

}  // namespace
