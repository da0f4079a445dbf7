// SPDX-License-Identifier: MIT
// Tests for how waits watch their task's ambient stop token: one callback per frame, shared by
// the frame's waits one after another. A stop cancels the wait parked at the time, from the
// loop or from another thread, and a stop that lands between two waits cancels the next one.
#include <corio/detail/waiter.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/result.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include "support/live_counter.hpp"

#include <atomic>
#include <chrono>
#include <stop_token>
#include <system_error>
#include <thread>

namespace {

using namespace std::chrono_literals;

bool canceled(const corio::result<void>& r) {
    return !r && r.error() == std::errc::operation_canceled;
}

// Many waits in one frame under one ambient token, then one that parks until stopped.
corio::task<void> naps_then_sleeps(int& naps, corio::result<void>& last, corio::event& parked) {
    for (int i = 0; i < 1000; ++i) {
        if (!co_await corio::sleep_for(0ms)) {
            co_return;
        }
        ++naps;
    }
    parked.set();  // its waiter runs next turn, after the sleep below has parked
    last = co_await corio::sleep_for(1h);
}

corio::task<void> stop_while_parked(bool from_another_thread, int& naps,
                                    corio::result<void>& last) {
    std::stop_source source;
    corio::event parked;
    corio::event done;
    corio::spawn([](int& n, corio::result<void>& l, corio::event& p,
                    corio::event& d) -> corio::task<void> {
        co_await naps_then_sleeps(n, l, p);
        d.set();
    }(naps, last, parked, done), source.get_token());
    (void)co_await parked.wait();
    if (from_another_thread) {
        std::thread([&] { source.request_stop(); }).join();
    } else {
        source.request_stop();
    }
    (void)co_await done.wait();
}

}  // namespace

TEST_CASE("a stop on the loop cancels the wait parked after a thousand waits of one frame") {
    corio::runtime rt;
    int naps = 0;
    corio::result<void> last;
    rt.block_on(stop_while_parked(false, naps, last));
    CHECK(naps == 1000);
    CHECK(canceled(last));
}

TEST_CASE("a stop from another thread cancels the wait parked after a thousand waits") {
    corio::runtime rt;
    int naps = 0;
    corio::result<void> last;
    rt.block_on(stop_while_parked(true, naps, last));
    CHECK(naps == 1000);
    CHECK(canceled(last));
}

namespace {

// On loop 1: waits once (so its frame watches the token), then spins until the stop has been
// requested from loop 0's thread, so the stop lands while no wait is parked. Every wait after
// it resumes canceled at once.
corio::task<void> stopped_between_waits(std::atomic<bool>& waited, std::atomic<bool>& stopped,
                                        corio::result<void>& first, corio::result<void>& next,
                                        corio::result<void>& again, std::atomic<bool>& done) {
    first = co_await corio::sleep_for(0ms);
    waited.store(true);
    while (!stopped.load()) {
    }
    next = co_await corio::sleep_for(1h);
    again = co_await corio::sleep_for(0ms);
    done.store(true);
}

}  // namespace

TEST_CASE("a stop from another thread between two waits cancels the next wait, not a later one") {
    corio::runtime_options o;
    o.threads = 2;
    o.stall_threshold = 0ms;  // loop 1 spins on purpose
    corio::runtime rt(o);
    std::atomic<bool> waited{false};
    std::atomic<bool> stopped{false};
    std::atomic<bool> done{false};
    corio::result<void> first;
    corio::result<void> next;
    corio::result<void> again;
    std::stop_source source;
    rt.spawn_on(1, corio::with_stop_token(source.get_token(),
                                          stopped_between_waits(waited, stopped, first, next,
                                                                again, done)));
    rt.block_on([](std::atomic<bool>& w, std::atomic<bool>& s, std::atomic<bool>& d,
                   std::stop_source& src) -> corio::task<void> {
        while (!w.load()) {
            co_await corio::yield();
        }
        src.request_stop();  // loop 1 is inside the task, between its waits
        s.store(true);
        while (!d.load()) {
            co_await corio::yield();
        }
    }(waited, stopped, done, source));
    CHECK(first.has_value());
    CHECK(canceled(next));
    CHECK(canceled(again));
}

TEST_CASE("a frame destroyed with a stop still queued for its loop leaves cleanly") {
    corio::event never;
    std::stop_source source;
    int live = 0;
    {
        corio::runtime rt;
        rt.spawn([](corio::event& e, corio_test::live_object) -> corio::task<void> {
            (void)co_await corio::sleep_for(0ms);  // a first wait: the frame watches the token
            (void)co_await e.wait();
        }(never, corio_test::live_object(live)), source.get_token());
        rt.block_on([]() -> corio::task<void> {
            (void)co_await corio::sleep_for(1ms);
        }());
        // No loop runs now: the stop is queued for loop 0, and the runtime's teardown destroys
        // the frame before any loop takes it.
        source.request_stop();
        CHECK(live == 1);
    }
    CHECK(live == 0);
}
