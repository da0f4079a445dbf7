// SPDX-License-Identifier: MIT
// Tests for corio/timer.hpp, cancel.hpp and stop_timer.hpp at the ends of the clock's range:
// deadlines at or near time_point::min() fire at once, at or near max() never overflow, on the
// real clock and on a manual one. Run under the asan preset, UBSan makes any overflow fail them.
#include <corio/timer.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/clock.hpp>
#include <corio/event.hpp>
#include <corio/io_handle.hpp>
#include <corio/runtime.hpp>
#include <corio/stop_timer.hpp>
#include <corio/task.hpp>

#include "support/socket_pair.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>

namespace {

using namespace std::chrono_literals;
using corio::clock_type;
using duration = clock_type::duration;
using time_point = clock_type::time_point;

// Stops `rt` if `body` has not finished after `limit` of real time, so that a deadline that
// never fires fails the test (block_on throws operation_canceled) instead of hanging it. Only a
// guard: nothing waits on it when the code under test works.
template <class T>
T run_guarded(corio::runtime& rt, corio::task<T> body, std::chrono::seconds limit = 10s) {
    std::mutex m;
    std::condition_variable cv;
    bool finished = false;
    std::thread watchdog([&] {
        std::unique_lock lock(m);
        if (!cv.wait_for(lock, limit, [&] { return finished; })) {
            rt.stop();
        }
    });
    struct join_guard {
        std::mutex& m;
        std::condition_variable& cv;
        bool& finished;
        std::thread& t;
        ~join_guard() {
            {
                std::lock_guard lock(m);
                finished = true;
            }
            cv.notify_one();
            t.join();
        }
    } guard{m, cv, finished, watchdog};
    return rt.block_on(std::move(body));
}

corio::runtime_options with_clock(corio::manual_clock& clock) {
    corio::runtime_options options;
    options.clock = &clock;
    return options;
}

// Each past deadline, through each way of setting one; the string names the first that failed.
corio::task<std::string> sleep_through_past_deadlines() {
    const auto now = corio::loop_time();  // the manual clock's time, when the runtime has one
    if (auto r = co_await corio::sleep_until(time_point::min()); !r) {
        co_return "sleep_until(min): " + r.error().message();
    }
    if (auto r = co_await corio::sleep_until(time_point::min() + 1ns); !r) {
        co_return "sleep_until(min + 1ns): " + r.error().message();
    }
    if (auto r = co_await corio::sleep_for(duration::min()); !r) {
        co_return "sleep_for(min): " + r.error().message();
    }
    if (auto r = co_await corio::sleep_for(duration::min() + 1ns); !r) {
        co_return "sleep_for(min + 1ns): " + r.error().message();
    }
    if (auto r = co_await corio::sleep_until(now - 1h); !r) {
        co_return "sleep_until(now - 1h): " + r.error().message();
    }
    co_return "";
}

corio::task<void> wait_forever(corio::event& never) { (void)co_await never.wait(); }

corio::task<std::string> time_out_at_once() {
    corio::event never;
    auto r = co_await corio::with_timeout(duration::min(), wait_forever(never));
    if (r || r.error() != std::errc::timed_out) {
        co_return "with_timeout(min) did not time out";
    }
    r = co_await corio::with_timeout(duration::min() + 1ns, wait_forever(never));
    if (r || r.error() != std::errc::timed_out) {
        co_return "with_timeout(min + 1ns) did not time out";
    }
    co_return "";
}

corio::task<int> quick() { co_return 7; }

// A stop_timer armed at a past deadline stops its source at the loop's next turn.
corio::task<std::string> stop_timers_in_the_past() {
    std::stop_source by_duration;
    std::stop_source by_time;
    corio::stop_timer t1(by_duration);
    corio::stop_timer t2(by_time);
    t1.arm(duration::min());
    t2.arm_at(time_point::min());
    if (auto r = co_await corio::sleep_for(duration::min(), by_duration.get_token()); r) {
        co_return "sleep_for(min) outlived stop_timer::arm(min)";
    }
    (void)co_await corio::sleep_for(0ns);
    if (!by_duration.stop_requested() || !by_time.stop_requested()) {
        co_return "a stop_timer armed in the past did not fire";
    }
    co_return "";
}

TEST_CASE("deadlines at and near time_point::min() fire at once on the real clock") {
    corio::runtime rt;
    INFO("backend " << rt.backend_name());
    const auto start = clock_type::now();
    CHECK(run_guarded(rt, sleep_through_past_deadlines()) == "");
    CHECK(run_guarded(rt, time_out_at_once()) == "");
    CHECK(run_guarded(rt, stop_timers_in_the_past()) == "");
    // "At once": far below the watchdog, which is the only other way these could end.
    CHECK(clock_type::now() - start < 5s);
}

TEST_CASE("deadlines at and near time_point::min() fire without the manual clock moving") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    const auto start = clock.now();
    CHECK(run_guarded(rt, sleep_through_past_deadlines()) == "");
    CHECK(run_guarded(rt, time_out_at_once()) == "");
    CHECK(run_guarded(rt, stop_timers_in_the_past()) == "");
    CHECK(clock.now() == start);
}

corio::task<std::string> sleep_far_then_recv(corio::io_handle& h) {
    std::stop_source stop;
    struct sleeper_result {
        bool done = false;
        std::error_code why;
    } sleeper;
    auto sleep_far = [](std::stop_token token, sleeper_result& out) -> corio::task<void> {
        auto r = co_await corio::sleep_for(duration::max(), token);
        out.done = true;
        out.why = r ? std::error_code{} : r.error();
    };
    auto sleep_until_max = [](std::stop_token token) -> corio::task<void> {
        (void)co_await corio::sleep_until(time_point::max(), token);
    };
    auto sleep_near_max = [](std::stop_token token) -> corio::task<void> {
        (void)co_await corio::sleep_until(time_point::max() - 1ns, token);
    };
    corio::spawn(sleep_far(stop.get_token(), sleeper));
    corio::spawn(sleep_until_max(stop.get_token()));
    corio::spawn(sleep_near_max(stop.get_token()));
    (void)co_await corio::sleep_for(0ns);  // the sleepers are parked: the loop waits on them
    std::byte buf[8];
    auto n = co_await h.recv(buf);
    if (!n || *n != 4) {
        co_return "recv under far-future timers failed";
    }
    if (sleeper.done) {
        co_return "sleep_for(max) fired";
    }
    stop.request_stop();
    (void)co_await corio::sleep_for(0ns);
    if (!sleeper.done || sleeper.why != std::errc::operation_canceled) {
        co_return "sleep_for(max) was not cancelled by its token";
    }
    co_return corio_test::as_string({buf, *n});
}

TEST_CASE("deadlines at and near time_point::max() never fire and never stop the loop from "
          "waking for I/O") {
    corio::runtime rt;
    INFO("backend " << rt.backend_name());
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    // Sent from another thread, before or while the loop blocks with its longest wait.
    std::thread sender([&] { corio_test::send_text(pair.fd(1), "ping"); });
    std::string got;
    try {
        got = run_guarded(rt, sleep_far_then_recv(h));
    } catch (...) {
        sender.join();
        throw;
    }
    sender.join();
    CHECK(got == "ping");
}

TEST_CASE("with_timeout(max) and stop_timer::arm(max) saturate instead of overflowing") {
    corio::runtime rt;
    auto body = []() -> corio::task<std::string> {
        std::stop_source never_fires;
        corio::stop_timer after_max(never_fires);
        after_max.arm(duration::max());
        corio::stop_timer near_max(never_fires);
        near_max.arm(duration::max() - 1ns);
        if (after_max.deadline() != time_point::max() || near_max.deadline() < corio::loop_time()) {
            co_return "stop_timer::arm near max went backwards";
        }
        auto r = co_await corio::with_timeout(duration::max(), quick());
        if (!r || *r != 7) {
            co_return "with_timeout(max) did not return the task's value";
        }
        (void)co_await corio::sleep_for(0ns);
        if (never_fires.stop_requested()) {
            co_return "a stop_timer armed near max fired";
        }
        co_return "";
    };
    CHECK(run_guarded(rt, body()) == "");
}

// Nanoseconds since the clock's epoch: what Catch prints when a comparison fails.
clock_type::rep ns(time_point t) { return t.time_since_epoch().count(); }

TEST_CASE("manual_clock::advance saturates at time_point::max() instead of going back") {
    corio::manual_clock clock;
    const auto start = clock.now();
    clock.advance(duration::max());
    CHECK(ns(clock.now()) == ns(time_point::max()));
    clock.advance(duration::max());
    CHECK(ns(clock.now()) == ns(time_point::max()));
    clock.advance(1ns);
    CHECK(ns(clock.now()) == ns(time_point::max()));
    CHECK(ns(clock.now()) > ns(start));
}

TEST_CASE("sleep_for(max) on a manual clock fires once the clock reaches time_point::max()") {
    corio::manual_clock clock;
    corio::runtime rt(with_clock(clock));
    auto body = [](corio::manual_clock& c) -> corio::task<std::string> {
        struct state {
            bool woke = false;
        } s;
        auto sleeper = [](state& out) -> corio::task<void> {
            (void)co_await corio::sleep_for(duration::max());
            out.woke = true;
        };
        corio::spawn(sleeper(s));
        (void)co_await corio::sleep_for(0ns);
        c.advance(duration::max() / 2);
        (void)co_await corio::sleep_for(0ns);
        co_await corio::yield{};
        if (s.woke) {
            co_return "sleep_for(max) fired halfway";
        }
        c.advance(duration::max());
        (void)co_await corio::sleep_for(0ns);
        co_await corio::yield{};
        if (!s.woke) {
            co_return "sleep_for(max) did not fire at time_point::max()";
        }
        co_return "";
    };
    CHECK(run_guarded(rt, body(clock)) == "");
}

}  // namespace
