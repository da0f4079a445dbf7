// SPDX-License-Identifier: MIT
// Tests for corio/spawn_blocking.hpp, cancellation and teardown: a call cancelled before it
// starts never runs, one cancelled while it runs resumes at once and its result is dropped,
// with_timeout around a call, and a runtime destroyed with calls queued and running.
#include <corio/spawn_blocking.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/result.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/blocking_gate.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace {

using namespace std::chrono_literals;
using corio_test::blocking_gate;
using corio_test::tracked;

const std::error_code canceled = std::make_error_code(std::errc::operation_canceled);

struct call_record {
    std::error_code error;
    int value = 0;
    corio::event resumed;
};

corio::task<void> call_and_record(call_record& rec, std::function<int()> fn,
                                  std::stop_token token = {}) {
    corio::result<int> r = co_await corio::spawn_blocking(std::move(fn), std::move(token));
    rec.error = r.error();
    rec.value = r.value_or(0);
    rec.resumed.set();
}

corio::task<int> cancel_queued_call(bool ambient, std::atomic<int>& second_ran) {
    blocking_gate gate;
    call_record first, second;
    std::stop_source stop;
    corio::spawn(call_and_record(first, [&gate] { return gate.wait() ? 1 : -1; }));
    auto count = [&second_ran] { return ++second_ran; };
    if (ambient) {
        corio::spawn(call_and_record(second, count), stop.get_token());
    } else {
        corio::spawn(call_and_record(second, count, stop.get_token()));
    }
    co_await corio::yield{};  // both calls are queued now, the second behind the first
    stop.request_stop();
    (void)co_await second.resumed.wait();
    const bool canceled_at_once = second.error == canceled && second_ran.load() == 0;
    gate.open();
    (void)co_await first.resumed.wait();
    // FIFO: had the cancelled call stayed queued, it would run before this one.
    corio::result<int> third = co_await corio::spawn_blocking([] { return 3; });
    if (!canceled_at_once || first.value != 1 || third.value_or(0) != 3) {
        co_return -1;
    }
    co_return second_ran.load();
}

TEST_CASE("a call cancelled before it starts leaves the queue: fn never runs") {
    // One thread, held by the first call until its gate opens.
    corio::runtime rt(corio_test::with_blocking_threads(1));
    std::atomic<int> second_ran{0};
    SECTION("by its explicit token") {
        CHECK(rt.block_on(cancel_queued_call(false, second_ran)) == 0);
    }
    SECTION("by the task's ambient token") {
        CHECK(rt.block_on(cancel_queued_call(true, second_ran)) == 0);
    }
    CHECK(second_ran.load() == 0);
}

corio::task<std::string> call_with_stopped_token(std::atomic<int>& ran) {
    std::stop_source stop;
    stop.request_stop();
    auto fn = [&ran] { return ++ran; };
    corio::result<int> r = co_await corio::spawn_blocking(fn, stop.get_token());
    if (r.error() != canceled) {
        co_return "resumed with " + r.error().message();
    }
    // Not even queued: no thread was started for it.
    co_return corio::detail::scheduler::current()->blocking()->threads_started() == 0
        ? "ok"
        : "a pool thread started";
}

TEST_CASE("a call whose token is already stopped resumes with operation_canceled at once") {
    corio::runtime rt;
    std::atomic<int> ran{0};
    CHECK(rt.block_on(call_with_stopped_token(ran)) == "ok");
    CHECK(ran.load() == 0);
}

struct running_call {
    blocking_gate entered, gate, finished;
    std::atomic<bool> fn_done{false};
    std::atomic<int> live{0};
};

corio::task<std::string> cancel_running_call(running_call& rc, std::stop_source& stop) {
    auto fn = [&rc, keep = tracked(rc.live)] {
        rc.entered.open();
        const bool opened = rc.gate.wait();
        rc.fn_done = true;
        rc.finished.open();
        if (!opened) {
            throw std::runtime_error("the test never opened the gate");
        }
        return tracked(rc.live);
    };
    corio::result<tracked> r = co_await corio::spawn_blocking(std::move(fn), stop.get_token());
    const bool still_running = !rc.fn_done.load();
    rc.gate.open();
    auto wait_finished = [&rc] { return rc.finished.wait(); };
    corio::result<bool> finished = co_await corio::spawn_blocking(wait_finished);
    if (r.error() != canceled || !still_running) {
        co_return "resumed with " + r.error().message() + (still_running ? "" : " after fn ended");
    }
    co_return finished.value_or(false) ? "ok" : "fn never finished";
}

TEST_CASE("a call cancelled while fn runs resumes at once; fn finishes on the pool and its "
          "result is dropped") {
    running_call rc;
    {
        corio::runtime rt;
        std::stop_source stop;
        std::thread stopper([&] {
            if (rc.entered.wait()) {
                stop.request_stop();  // from another thread, while fn is blocked
            }
        });
        CHECK(rt.block_on(cancel_running_call(rc, stop)) == "ok");
        stopper.join();
    }
    CHECK(rc.fn_done.load());
    CHECK(rc.live.load() == 0);  // fn's capture and its dropped result are both gone
}

// `gate` outlives the runtime: the slow call is still waiting at it when this task ends.
corio::task<std::string> timeouts_around_calls(blocking_gate& gate) {
    auto slow = [&gate] { return gate.wait() ? 1 : 0; };
    corio::result<int> late = co_await corio::with_timeout(5ms, corio::spawn_blocking(slow));
    gate.open();
    auto fast = [] { return 2; };
    corio::result<int> quick = co_await corio::with_timeout(1h, corio::spawn_blocking(fast));
    if (late.error() != std::errc::timed_out) {
        co_return "slow call: " + late.error().message();
    }
    co_return quick.value_or(0) == 2 ? "ok" : "fast call lost its value";
}

TEST_CASE("with_timeout around spawn_blocking gives timed_out at the deadline, the value before") {
    blocking_gate gate;
    corio::runtime rt;
    CHECK(rt.block_on(timeouts_around_calls(gate)) == "ok");
}

struct opens_on_destroy {
    blocking_gate& gate;
    ~opens_on_destroy() { gate.open(); }
};

corio::task<void> open_when_destroyed(blocking_gate& gate, corio::event& never) {
    opens_on_destroy guard{gate};
    (void)co_await never.wait();
}

struct teardown_calls {
    blocking_gate gate, entered;
    std::atomic<int> live{0}, started{0}, finished{0};
};

corio::task<void> blocked_call(teardown_calls& t) {
    auto fn = [&t, keep = tracked(t.live)] {
        t.started.fetch_add(1);
        t.entered.add(1);
        (void)t.gate.wait();
        t.finished.fetch_add(1);
        return tracked(t.live);
    };
    (void)co_await corio::spawn_blocking(std::move(fn));
}

corio::task<bool> start_calls(teardown_calls& t, corio::event& never) {
    // The gate opens only when the runtime destroys this task's frame, at teardown.
    corio::spawn(open_when_destroyed(t.gate, never));
    for (int i = 0; i < 5; ++i) {
        corio::spawn(blocked_call(t));
    }
    // Queued before the calls above (they start when this task suspends), on the third thread.
    auto two_running = [&t] { return t.entered.wait(2); };
    corio::result<bool> r = co_await corio::spawn_blocking(two_running);
    co_return r.value_or(false);
}

TEST_CASE("destroying the runtime with calls running and queued drops the queued ones, lets "
          "the running ones finish and joins the pool") {
    corio::event never;
    teardown_calls t;
    {
        corio::runtime rt(corio_test::with_blocking_threads(3));
        CHECK(rt.block_on(start_calls(t, never)));
    }
    CHECK(t.started.load() >= 2);
    CHECK(t.started.load() <= 3);  // two held the pool's other threads; one more may have begun
    CHECK(t.finished.load() == t.started.load());
    CHECK(t.live.load() == 0);
}

}  // namespace
