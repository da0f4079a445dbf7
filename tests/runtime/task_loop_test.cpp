// SPDX-License-Identifier: MIT
// Tests for the loop a task carries in its promise: its waits park on that loop, and a task
// resumed by a thread that is not its loop's gets usage_error from its next wait or await
// instead of racing with its own loop.
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include <corio/error.hpp>
#include <corio/event.hpp>
#include <corio/io_handle.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include "support/socket_pair.hpp"

#include <array>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <string>
#include <system_error>

namespace {

using namespace std::chrono_literals;

// The misuse: an awaiter whose task is resumed directly by another loop's thread (as a
// callback of a foreign library would), instead of by its own loop.
corio::task<void> resume_directly(std::coroutine_handle<> h) {
    h.resume();
    co_return;
}
struct resumed_on_loop_1 {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { corio::spawn_on(1, resume_directly(h)); }
    void await_resume() const noexcept {}
};
// The repair, for the test to end cleanly: hand the task back to its own loop.
struct handed_back {
    corio::detail::scheduler* home;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { home->schedule_remote(h); }
    void await_resume() const noexcept {}
};

struct misuse_seen {
    std::string sleep_error;
    std::string yield_error;
    std::string recv_error;
    std::string await_error;
    unsigned back_on = 99;
};

std::string usage_error_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const corio::usage_error& u) {
        return u.what();
    } catch (...) {
        return "another exception";
    }
}

corio::task<void> never_started() { co_return; }

corio::task<void> misused(misuse_seen& out, int fd) {
    corio::detail::scheduler* home = corio::detail::scheduler::current();
    corio::io_handle h(fd);
    co_await resumed_on_loop_1{};
    // Now on loop 1's thread, in a task of loop 0: every wait and await refuses.
    std::array<std::byte, 4> buf{};
    std::exception_ptr e;
    try {
        (void)co_await corio::sleep_for(0ms);
    } catch (...) {
        e = std::current_exception();
    }
    out.sleep_error = usage_error_of(e);
    try {
        co_await corio::yield();
    } catch (...) {
        e = std::current_exception();
    }
    out.yield_error = usage_error_of(e);
    try {
        (void)co_await h.recv(buf);
    } catch (...) {
        e = std::current_exception();
    }
    out.recv_error = usage_error_of(e);
    try {
        co_await never_started();
    } catch (...) {
        e = std::current_exception();
    }
    out.await_error = usage_error_of(e);
    co_await handed_back{home};
    out.back_on = corio::current_loop();
}

void check_refused(const misuse_seen& seen) {
    for (const std::string* msg : {&seen.sleep_error, &seen.yield_error, &seen.recv_error,
                                   &seen.await_error}) {
        CHECK_THAT(*msg, Catch::Contains("not its loop's"));
    }
    CHECK_THAT(seen.sleep_error, Catch::StartsWith("corio::sleep"));
    CHECK_THAT(seen.await_error, Catch::StartsWith("corio::task: awaited"));
    CHECK(seen.back_on == 0);
}

corio::runtime_options two_loops() {
    corio::runtime_options o;
    o.threads = 2;
    return o;
}

// A coroutine type corio does not know: its waits park on the loop running its thread.
struct plain_coroutine {
    struct promise_type {
        plain_coroutine get_return_object() const noexcept { return {}; }
        std::suspend_never initial_suspend() const noexcept { return {}; }
        std::suspend_never final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        void unhandled_exception() const noexcept { std::terminate(); }
    };
};
plain_coroutine plain_sleep(corio::result<void>& out, corio::event& done) {
    out = co_await corio::sleep_for(1ms);
    done.set();
}

}  // namespace

TEST_CASE("a block_on task resumed by another loop's thread: waits and awaits are usage_error") {
    corio::runtime rt(two_loops());
    corio_test::socket_pair pair;
    misuse_seen seen;
    rt.block_on(misused(seen, pair.take(0)));
    check_refused(seen);
}

TEST_CASE("a spawned task resumed by another loop's thread: waits and awaits are usage_error") {
    corio::runtime rt(two_loops());
    corio_test::socket_pair pair;
    misuse_seen seen;
    rt.block_on([](misuse_seen& out, int fd) -> corio::task<void> {
        corio::event done;
        corio::spawn([](misuse_seen& o, int f, corio::event& d) -> corio::task<void> {
            co_await misused(o, f);
            d.set();
        }(out, fd, done));
        (void)co_await done.wait();
    }(seen, pair.take(0)));
    check_refused(seen);
}

TEST_CASE("a coroutine that is not a corio task waits on the loop running its thread") {
    corio::runtime rt;
    corio::result<void> out = std::make_error_code(std::errc::io_error);
    rt.block_on([](corio::result<void>& r) -> corio::task<void> {
        corio::event done;
        plain_sleep(r, done);
        (void)co_await done.wait();
    }(out));
    CHECK(out.has_value());
}

TEST_CASE("outside a runtime a wait is still a usage_error naming the missing runtime") {
    auto t = []() -> corio::task<std::string> {
        try {
            (void)co_await corio::sleep_for(1ms);
        } catch (const corio::usage_error& e) {
            co_return e.what();
        }
        co_return "no error";
    }();
    t.handle().resume();  // no runtime: the task runs on this plain thread
    REQUIRE(t.done());
    CHECK(t.handle().promise().take_result() ==
          "corio::sleep: no runtime is running on this thread");
}
