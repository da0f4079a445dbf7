// SPDX-License-Identifier: MIT
// Tests for corio/runtime.hpp: block_on, spawn, unhandled exceptions, stop, teardown, yield.
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include <corio/backend.hpp>
#include <corio/error.hpp>
#include <corio/event.hpp>
#include <corio/io_handle.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include "support/live_counter.hpp"
#include "support/socket_pair.hpp"

#include <chrono>
#include <cstdio>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;

struct test_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

corio::task<int> forty_two() { co_return 42; }

corio::runtime_options on_backend(std::string name) {
    corio::runtime_options options;
    options.backend = std::move(name);
    return options;
}

corio::task<int> throw_int(std::string what) {
    throw test_error(what);
    co_return 0;
}

TEST_CASE("block_on returns the value of its task") {
    corio::runtime rt;
    CHECK(rt.block_on(forty_two()) == 42);
}

TEST_CASE("block_on rethrows the exception escaping its task and the runtime stays usable") {
    corio::runtime rt;
    CHECK_THROWS_MATCHES(rt.block_on(throw_int("from the task")), test_error,
                         Catch::Matchers::Message("from the task"));
    CHECK(rt.block_on(forty_two()) == 42);
}

TEST_CASE("block_on of an empty task throws usage_error") {
    corio::runtime rt;
    CHECK_THROWS_AS(rt.block_on(corio::task<int>{}), corio::usage_error);
}

TEST_CASE("a default runtime uses the backend named by default_backend_name") {
    corio::runtime rt;
    CHECK(rt.backend_name() == corio::default_backend_name());
}

TEST_CASE("runtime::create runs on every available backend") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    auto rt = corio::runtime::create(on_backend(name));
    REQUIRE(rt);
    CHECK(rt->backend_name() == name);
    CHECK(rt->block_on(forty_two()) == 42);
}

TEST_CASE("runtime::create with an unknown backend reports errc::backend_unavailable") {
    auto rt = corio::runtime::create(on_backend("no-such-backend"));
    REQUIRE_FALSE(rt);
    CHECK(rt.error() == corio::errc::backend_unavailable);
}

TEST_CASE("the runtime constructor throws system_error for an unknown backend") {
    try {
        corio::runtime rt(on_backend("no-such-backend"));
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(e.code() == corio::errc::backend_unavailable);
    }
}

corio::task<void> record(std::vector<int>& log, int id) {
    log.push_back(id);
    co_return;
}

corio::task<void> record_and_set(std::vector<int>& log, int id, corio::event& done) {
    log.push_back(id);
    done.set();
    co_return;
}

corio::task<std::size_t> wait_for(corio::event& done, std::vector<int>& log) {
    auto r = co_await done.wait();
    CHECK(r);
    co_return log.size();
}

TEST_CASE("spawned tasks run in spawn order while block_on waits") {
    corio::runtime rt;
    std::vector<int> log;
    corio::event done;
    rt.spawn(record(log, 1));
    rt.spawn(record(log, 2));
    rt.spawn(record_and_set(log, 3, done));
    CHECK(log.empty());  // spawn does not run anything by itself
    CHECK(rt.block_on(wait_for(done, log)) == 3);
    CHECK(log == std::vector<int>{1, 2, 3});
}

corio::task<std::size_t> spawn_from_inside(std::vector<int>& log, corio::event& done) {
    corio::spawn(record(log, 1));
    corio::spawn(record_and_set(log, 2, done));
    const std::size_t before = log.size();
    (void)co_await done.wait();
    co_return before;
}

TEST_CASE("corio::spawn from a task runs the new task detached, after the caller suspends") {
    corio::runtime rt;
    std::vector<int> log;
    corio::event done;
    CHECK(rt.block_on(spawn_from_inside(log, done)) == 0);
    CHECK(log == std::vector<int>{1, 2});
}

TEST_CASE("corio::spawn outside a running runtime throws usage_error") {
    CHECK_THROWS_AS(corio::spawn(forty_two()), corio::usage_error);
}

corio::task<void> hold_until_done(int& live) {
    corio_test::live_object local(live);
    co_await corio::yield{};
}

corio::task<int> count_after_yield(int& live) {
    co_await corio::yield{};
    co_await corio::yield{};
    co_return live;
}

TEST_CASE("a spawned task's frame is destroyed as soon as it finishes") {
    corio::runtime rt;
    int live = 0;
    rt.spawn(hold_until_done(live));
    CHECK(rt.block_on(count_after_yield(live)) == 0);
}

corio::task<void> throw_void(std::string what) {
    throw test_error(what);
    co_return;
}

// Spawns a second thrower and then a task that records 2 and sets `later`, and waits for that.
corio::task<int> spawn_thrower_then_continue(std::vector<int>& log, corio::event& later) {
    corio::spawn(throw_void("second"));
    corio::spawn(record_and_set(log, 2, later));
    (void)co_await later.wait();
    co_return 7;
}

TEST_CASE("an exception escaping a spawned task goes to on_unhandled_exception; work goes on") {
    std::vector<std::string> seen;
    corio::runtime_options options;
    options.on_unhandled_exception = [&seen](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const test_error& ex) {
            seen.emplace_back(ex.what());
        } catch (...) {
            seen.emplace_back("unexpected type");
        }
    };
    corio::runtime rt(std::move(options));
    corio::event later;
    std::vector<int> log;
    rt.spawn(throw_void("first"));
    rt.spawn(record(log, 1));
    CHECK(rt.block_on(spawn_thrower_then_continue(log, later)) == 7);
    CHECK(seen == std::vector<std::string>{"first", "second"});
    CHECK(log == std::vector<int>{1, 2});
}

// Points file descriptor 2 at a pipe while it lives; text() reads what was written meanwhile.
class stderr_capture {
public:
    stderr_capture() {
        REQUIRE(::pipe2(fds_, O_NONBLOCK | O_CLOEXEC) == 0);
        saved_ = ::dup(STDERR_FILENO);
        REQUIRE(saved_ >= 0);
        std::fflush(stderr);
        REQUIRE(::dup2(fds_[1], STDERR_FILENO) == STDERR_FILENO);
    }
    stderr_capture(const stderr_capture&) = delete;
    stderr_capture& operator=(const stderr_capture&) = delete;
    ~stderr_capture() {
        restore();
        ::close(fds_[0]);
        ::close(fds_[1]);
    }
    std::string text() {
        restore();
        std::string out;
        char buf[512];
        for (ssize_t n; (n = ::read(fds_[0], buf, sizeof buf)) > 0;) {
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }

private:
    void restore() {
        if (saved_ >= 0) {
            std::fflush(stderr);
            ::dup2(saved_, STDERR_FILENO);
            ::close(saved_);
            saved_ = -1;
        }
    }
    int fds_[2] = {-1, -1};
    int saved_ = -1;
};

TEST_CASE("without a handler, an escaped exception is reported on stderr and work goes on") {
    stderr_capture capture;
    std::string report;
    {
        corio::runtime rt;
        corio::event later;
        std::vector<int> log;
        rt.spawn(throw_void("first"));
        rt.spawn(record(log, 1));
        CHECK(rt.block_on(spawn_thrower_then_continue(log, later)) == 7);
        CHECK(log == std::vector<int>{1, 2});
        report = capture.text();
    }
    CHECK_THAT(report, Catch::Matchers::Contains("first"));
    CHECK_THAT(report, Catch::Matchers::Contains("second"));
}

corio::task<int> stop_then_wait(corio::runtime& rt, corio::event& never, int& live) {
    corio_test::live_object local(live);
    rt.stop();
    (void)co_await never.wait();
    co_return 1;
}

TEST_CASE("stop() from a task makes block_on throw operation_canceled and destroy the task") {
    corio::runtime rt;
    corio::event never;
    int live = 0;
    try {
        (void)rt.block_on(stop_then_wait(rt, never, live));
        FAIL("block_on returned");
    } catch (const std::system_error& e) {
        CHECK(e.code() == std::errc::operation_canceled);
    }
    CHECK(live == 0);
}

corio::task<int> stop_then_yield(corio::runtime& rt) {
    rt.stop();
    co_await corio::yield{};
    co_return 1;
}

corio::task<int> await_stop_then_yield(corio::runtime& rt) { co_return co_await stop_then_yield(rt); }

TEST_CASE("a runtime stopped while its task was queued to run can run block_on again") {
    corio::runtime rt;
    CHECK_THROWS_AS(rt.block_on(await_stop_then_yield(rt)), std::system_error);
    CHECK(rt.block_on(forty_two()) == 42);
}

corio::task<void> stop_after(corio::runtime& rt, std::vector<int>& log) {
    log.push_back(1);
    co_await corio::yield{};
    log.push_back(2);
    rt.stop();
}

TEST_CASE("run() runs spawned tasks until stop()") {
    corio::runtime rt;
    std::vector<int> log;
    rt.spawn(stop_after(rt, log));
    rt.run();
    CHECK(log == std::vector<int>{1, 2});
}

corio::task<void> park_on_sleep(int& live) {
    corio_test::live_object local(live);
    (void)co_await corio::sleep_for(1h);
}

corio::task<void> park_on_recv(int& live, int fd) {
    corio_test::live_object local(live);
    corio::io_handle h(fd);
    std::byte buf[16];
    (void)co_await h.recv(buf);
}

corio::task<void> park_on_event(int& live, corio::event& never) {
    corio_test::live_object local(live);
    (void)co_await never.wait();
}

corio::task<void> park_in_child(int& live, corio::event& never) {
    corio_test::live_object local(live);
    co_await park_on_event(live, never);
}

corio::task<int> count_live(int& live) { co_return live; }

TEST_CASE("destroying a runtime destroys the frames of spawned tasks that are still parked") {
    int live = 0;
    corio::event never;  // outlives the runtime: the parked waits must unlink themselves
    corio_test::socket_pair pair;
    {
        corio::runtime rt;
        rt.spawn(park_on_sleep(live));
        rt.spawn(park_on_recv(live, pair.take(0)));
        rt.spawn(park_on_event(live, never));
        rt.spawn(park_in_child(live, never));
        // Spawned tasks run before block_on's task in the same turn, so all are parked now.
        CHECK(rt.block_on(count_live(live)) == 5);
    }
    CHECK(live == 0);
    // The recv task's io_handle was destroyed with its frame, closing its end.
    char c;
    CHECK(::recv(pair.fd(1), &c, 1, 0) == 0);
    never.set();  // no waiter is left to resume
}

corio::task<void> take_turns(std::vector<std::string>& log, std::string name) {
    log.push_back(name + "1");
    co_await corio::yield{};
    log.push_back(name + "2");
    co_await corio::yield{};
    log.push_back(name + "3");
}

corio::task<void> run_two(std::vector<std::string>& log) {
    corio::spawn(take_turns(log, "b"));
    co_await take_turns(log, "a");
    co_await corio::yield{};
}

TEST_CASE("yield lets the other ready tasks run before the caller continues") {
    corio::runtime rt;
    std::vector<std::string> log;
    rt.block_on(run_two(log));
    CHECK(log == std::vector<std::string>{"a1", "b1", "a2", "b2", "a3", "b3"});
}

TEST_CASE("stop() called before run() makes run() return instead of being lost") {
    corio::runtime rt;
    int ran = 0;
    rt.spawn([](int& n) -> corio::task<void> {
        ++n;
        co_return;
    }(ran));
    rt.stop();
    rt.run();  // would block forever if the earlier stop() were forgotten
    CHECK(ran == 1);
}

corio::task<void> park_reader(corio::io_handle& h) {
    std::byte b[1];
    (void)co_await h.recv(b);
}

TEST_CASE("an io_handle registered on a runtime can be closed after the runtime is gone") {
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    {
        corio::runtime rt;
        rt.spawn(park_reader(h));  // registers h with this runtime's reactor, then parks
        rt.stop();
        rt.run();
    }  // destroys the parked task and must detach h from the dying reactor
    CHECK(h.is_open());
    CHECK(h.close());  // under ASan, a use of the freed scheduler here fails the test
    CHECK_FALSE(h.is_open());
}

}  // namespace
