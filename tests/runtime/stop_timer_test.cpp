// SPDX-License-Identifier: MIT
// Tests for corio/stop_timer.hpp on a manual clock: deadline order, disarm, re-arm, destruction
// while armed, loop_time, and usage errors outside a runtime.
#include <corio/stop_timer.hpp>

#include <catch2/catch.hpp>

#include <corio/clock.hpp>
#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include "support/clock_steps.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::clock_type;
using corio::stop_timer;
using corio_test::advance_in_steps;

corio::runtime_options with_clock(corio::manual_clock& clock) {
    corio::runtime_options options;
    options.clock = &clock;
    return options;
}

struct stop_record {
    int id;
    clock_type::time_point at;
};

// Records, through a stop callback, when (on the manual clock) its source was stopped.
struct recorded_source {
    recorded_source(int id, corio::manual_clock& clock, std::vector<stop_record>& log)
        : on_stop(source.get_token(), recorder{id, &clock, &log}) {}
    struct recorder {
        int id;
        corio::manual_clock* clock;
        std::vector<stop_record>* log;
        void operator()() const { log->push_back({id, clock->now()}); }
    };
    std::stop_source source;
    std::stop_callback<recorder> on_stop;
};

// Moves the clock by `d` and lets the loop fire what became due and run what that woke.
corio::task<> step(corio::manual_clock& clock, clock_type::duration d) {
    clock.advance(d);
    (void)co_await corio::sleep_for(0ms);
    co_await corio::yield{};
}

TEST_CASE("stop_timers fire in deadline order, ties in arming order, none before its deadline") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    std::vector<stop_record> log;
    const std::vector<clock_type::duration> delays = {30ms, 10ms, 20ms, 10ms, 15500us, 1ms};
    std::vector<std::unique_ptr<recorded_source>> sources;
    std::vector<std::unique_ptr<stop_timer>> timers;
    for (std::size_t i = 0; i < delays.size(); ++i) {
        sources.push_back(std::make_unique<recorded_source>(static_cast<int>(i), clock, log));
        timers.push_back(std::make_unique<stop_timer>(sources.back()->source));
    }
    rt.block_on([](std::vector<std::unique_ptr<stop_timer>>& timers,
                   const std::vector<clock_type::duration>& delays,
                   corio::manual_clock& clock) -> corio::task<> {
        for (std::size_t i = 0; i < timers.size(); ++i) {
            timers[i]->arm(delays[i]);
            CHECK(timers[i]->armed());
        }
        co_await advance_in_steps(clock, 1ms, 40);
    }(timers, delays, clock));

    std::vector<int> order;
    for (const stop_record& r : log) {
        order.push_back(r.id);
        const auto deadline = start + delays[static_cast<std::size_t>(r.id)];
        CAPTURE(r.id);
        CHECK(r.at >= deadline);       // not early
        CHECK(r.at - deadline < 1ms);  // at the first step that reached it
        CHECK(timers[static_cast<std::size_t>(r.id)]->deadline() == deadline);  // kept
    }
    CHECK(order == std::vector<int>{5, 1, 3, 4, 2, 0});
    for (const auto& t : timers) {
        CHECK_FALSE(t->armed());  // fired
    }
}

TEST_CASE("a disarmed stop_timer never fires; disarming twice or unarmed does nothing") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    std::vector<stop_record> log;
    recorded_source kept(0, clock, log);
    recorded_source dropped(1, clock, log);
    stop_timer keep(kept.source);
    stop_timer drop(dropped.source);
    drop.disarm();  // never armed
    rt.block_on([](stop_timer& keep, stop_timer& drop, corio::manual_clock& clock) -> corio::task<> {
        keep.arm(10ms);
        drop.arm(5ms);
        co_await step(clock, 2ms);
        drop.disarm();
        CHECK_FALSE(drop.armed());
        drop.disarm();
        co_await advance_in_steps(clock, 1ms, 50);
    }(keep, drop, clock));
    REQUIRE(log.size() == 1);
    CHECK(log[0].id == 0);
    CHECK_FALSE(dropped.source.stop_requested());
}

TEST_CASE("re-arming a stop_timer moves its deadline, later or earlier") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    std::vector<stop_record> log;
    recorded_source later(0, clock, log);
    recorded_source earlier(1, clock, log);
    stop_timer to_later(later.source);
    stop_timer to_earlier(earlier.source);
    rt.block_on([](stop_timer& to_later, stop_timer& to_earlier,
                   corio::manual_clock& clock) -> corio::task<> {
        to_later.arm(10ms);
        to_earlier.arm(30ms);
        co_await step(clock, 5ms);
        to_later.arm(25ms);    // now due 30 ms after the start
        to_earlier.arm(2ms);  // now due 7 ms after the start
        co_await advance_in_steps(clock, 1ms, 40);
    }(to_later, to_earlier, clock));
    REQUIRE(log.size() == 2);
    CHECK(log[0].id == 1);
    CHECK(log[0].at - start == 7ms);
    CHECK(log[1].id == 0);
    CHECK(log[1].at - start == 30ms);
}

TEST_CASE("destroying an armed stop_timer cancels it; the timers around it still fire") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    std::vector<stop_record> log;
    recorded_source a(0, clock, log);
    recorded_source b(1, clock, log);
    recorded_source c(2, clock, log);
    stop_timer ta(a.source);
    stop_timer tc(c.source);
    auto tb = std::make_unique<stop_timer>(b.source);
    rt.block_on([](stop_timer& ta, std::unique_ptr<stop_timer>& tb, stop_timer& tc,
                   corio::manual_clock& clock) -> corio::task<> {
        // Equal deadlines: b sits between a and c in the queue's list when it goes.
        ta.arm(10ms);
        tb->arm(10ms);
        tc.arm(10ms);
        tb.reset();
        co_await advance_in_steps(clock, 1ms, 20);
    }(ta, tb, tc, clock));
    REQUIRE(log.size() == 2);
    CHECK(log[0].id == 0);
    CHECK(log[1].id == 2);
    CHECK_FALSE(b.source.stop_requested());
}

TEST_CASE("a stop_timer still armed when its runtime is destroyed can be destroyed after it") {
    corio::manual_clock clock;
    std::stop_source source;
    stop_timer t(source);
    {
        corio::runtime rt(with_clock(clock));
        rt.block_on([](stop_timer& t) -> corio::task<> {
            t.arm(1h);
            co_return;
        }(t));
        CHECK(t.armed());
    }
    CHECK_FALSE(t.armed());  // the runtime let go of it
    CHECK_FALSE(source.stop_requested());
}

TEST_CASE("a stop_timer stops the waits that follow its source's token") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    std::stop_source source;
    stop_timer t(source);
    struct seen {
        std::error_code error;
        clock_type::time_point at;
    };
    const seen s = rt.block_on([](stop_timer& t, std::stop_token token,
                                  corio::manual_clock& clock) -> corio::task<seen> {
        corio::spawn(advance_in_steps(clock, 1ms, 20));
        t.arm(3ms);
        auto r = co_await corio::sleep_for(1h, std::move(token));
        co_return seen{r.error(), clock.now()};
    }(t, source.get_token(), clock));
    CHECK(s.error == std::errc::operation_canceled);
    CHECK(s.at - start == 3ms);
}

TEST_CASE("arm counts from loop_time; a past deadline fires at the next turn, not inside arm") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    std::stop_source past_source;
    std::stop_source never_source;
    stop_timer past(past_source);
    stop_timer never(never_source);
    rt.block_on([](stop_timer& past, stop_timer& never, std::stop_source& past_source,
                   corio::manual_clock& clock) -> corio::task<> {
        const auto now = corio::loop_time();
        CHECK(now == clock.now());  // on a manual clock the loop's time is the clock's
        past.arm(5ms);
        CHECK(past.deadline() == now + 5ms);
        past.arm_at(now - 1h);
        CHECK(past.deadline() == now - 1h);
        CHECK_FALSE(past_source.stop_requested());  // not synchronously
        never.arm(clock_type::duration::max());      // saturates: never, not the past
        CHECK(never.deadline() == clock_type::time_point::max());
        (void)co_await corio::sleep_for(0ms);
        CHECK(past_source.stop_requested());
        CHECK(clock.now() == now);  // without the clock moving
        co_await step(clock, 24h);
        CHECK(never.armed());
    }(past, never, past_source, clock));
    CHECK_FALSE(never_source.stop_requested());
}

TEST_CASE("loop_time on the steady clock is the time of the loop's last poll, not later than now") {
    corio::runtime rt;
    const auto before = clock_type::now();
    const auto seen = rt.block_on([]() -> corio::task<clock_type::time_point> {
        (void)co_await corio::sleep_for(1ms);  // the loop polls before this resumes
        co_return corio::loop_time();
    }());
    CHECK(seen >= before);
    CHECK(seen <= clock_type::now());
}

TEST_CASE("stop_timer and loop_time throw usage_error outside a runtime; disarm does not") {
    std::stop_source source;
    stop_timer t(source);
    CHECK_THROWS_AS(t.arm(1s), corio::usage_error);
    CHECK_THROWS_AS(t.arm_at(clock_type::now()), corio::usage_error);
    CHECK_THROWS_AS(corio::loop_time(), corio::usage_error);
    CHECK_NOTHROW(t.disarm());
    CHECK_FALSE(t.armed());
    CHECK(t.deadline() == clock_type::time_point{});
}

TEST_CASE("re-arming a stop_timer armed on another runtime throws usage_error") {
    corio::manual_clock clock_a;
    corio::manual_clock clock_b;
    corio::runtime a(with_clock(clock_a));
    corio::runtime b(with_clock(clock_b));
    std::stop_source source;
    stop_timer t(source);
    a.block_on([](stop_timer& t) -> corio::task<> {
        t.arm(1h);
        co_return;
    }(t));
    bool threw = false;
    b.block_on([](stop_timer& t, bool& threw) -> corio::task<> {
        try {
            t.arm(1s);
        } catch (const corio::usage_error&) {
            threw = true;
        }
        co_return;
    }(t, threw));
    CHECK(threw);
    CHECK(t.armed());  // still on a's queue, unchanged
    t.disarm();
}

}  // namespace
