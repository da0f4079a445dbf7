// SPDX-License-Identifier: MIT
// Tests for process::child (corio/process.hpp): wait, try_wait, kill, cancellation with and
// without kill_on_cancel, reaping of children dropped unwaited, and all of it again on the
// SIGCHLD path (no pidfd), on every backend.
#include <corio/process.hpp>

#include <catch2/catch.hpp>

#include "support/stream_io.hpp"

#include <corio/cancel.hpp>
#include <corio/detail/process_testing.hpp>
#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/when_all.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using corio::process::exit_status;
using corio::process::stdio;

const std::error_code canceled = std::make_error_code(std::errc::operation_canceled);
const std::error_code esrch(ESRCH, std::system_category());

// Runs the test once with pidfds and once on the SIGCHLD path.
struct wait_path {
    explicit wait_path(bool pidfd) { corio::detail::set_pidfd_enabled(pidfd); }
    ~wait_path() { corio::detail::set_pidfd_enabled(true); }
    wait_path(const wait_path&) = delete;
    wait_path& operator=(const wait_path&) = delete;
};

#define FOR_EACH_WAIT_PATH()                            \
    const bool use_pidfd = GENERATE(true, false);       \
    INFO((use_pidfd ? "pidfd" : "SIGCHLD") << " path"); \
    wait_path path_guard(use_pidfd)

// `cat` reading a pipe this test holds: it runs until that pipe is closed.
corio::process::child blocked_cat(corio::process::options o = {}) {
    o.in = stdio::pipe;
    auto c = corio::process::spawn({"cat"}, o);
    REQUIRE(c);
    return std::move(*c);
}

// Whether `pid` is still a child of this process (a zombie counts): waitid without reaping.
bool still_ours(int pid) {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

// The background reaper works on its own thread: wait (up to 10 s) until it has reaped `pid`.
bool reaped_soon(int pid) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (still_ours(pid)) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(1ms);  // polling a condition with a deadline, not a delay
    }
    return errno == ECHILD;
}

corio::task<void> request_stop(std::stop_source& s) {
    s.request_stop();
    co_return;
}

// A wait cancelled once it has parked.
corio::task<corio::result<exit_status>> cancelled_wait(corio::process::child& c) {
    std::stop_source stop;
    corio::spawn(request_stop(stop));  // runs once the wait below has parked
    co_return co_await c.wait(stop.get_token());
}

TEST_CASE("kill ends the child, wait reports the signal, and kill after the reap is ESRCH") {
    FOR_EACH_WAIT_PATH();
    corio::runtime rt;
    auto c = blocked_cat();
    REQUIRE(c.kill(SIGTERM));
    auto status = rt.block_on(c.wait());
    REQUIRE(status);
    CHECK(*status == exit_status::signaled(SIGTERM));
    CHECK(corio::process::to_string(*status).rfind("killed by signal 15 (", 0) == 0);
    auto again = c.kill(SIGKILL);
    REQUIRE_FALSE(again);
    CHECK(again.error() == esrch);
    auto second = rt.block_on(c.wait());  // the same status again, at once
    REQUIRE(second);
    CHECK(*second == *status);
    CHECK_FALSE(still_ours(c.id()));
}

TEST_CASE("try_wait says nullopt while the child runs, then reaps it") {
    FOR_EACH_WAIT_PATH();
    corio::runtime rt;
    auto c = blocked_cat();
    auto running = c.try_wait();
    REQUIRE(running);
    CHECK_FALSE(*running);
    (void)c.stdin_pipe.close();  // cat sees end of file and exits 0
    auto status = rt.block_on(c.wait());
    REQUIRE(status);
    CHECK(status->success());
    auto after = c.try_wait();
    REQUIRE(after);
    CHECK(*after == exit_status::exited(0));
}

TEST_CASE("a cancelled wait leaves the child running, and it can be waited for again") {
    FOR_EACH_WAIT_PATH();
    corio::runtime rt;
    auto c = blocked_cat();
    auto first = rt.block_on(cancelled_wait(c));
    REQUIRE_FALSE(first);
    CHECK(first.error() == canceled);
    CHECK(c.kill(0));  // still running: signal 0 reaches it
    (void)c.stdin_pipe.close();
    auto status = rt.block_on(c.wait());
    REQUIRE(status);
    CHECK(status->success());
}

TEST_CASE("with kill_on_cancel, a cancelled wait kills and reaps the child before it returns") {
    FOR_EACH_WAIT_PATH();
    corio::runtime rt;
    auto c = blocked_cat({.kill_on_cancel = true});
    const int pid = c.id();
    auto r = rt.block_on(cancelled_wait(c));
    REQUIRE_FALSE(r);
    CHECK(r.error() == canceled);
    CHECK_FALSE(still_ours(pid));  // reaped already: no zombie
    CHECK(errno == ECHILD);
    auto status = c.try_wait();
    REQUIRE(status);
    CHECK(*status == exit_status::signaled(SIGKILL));
}

TEST_CASE("a wait under with_timeout gives timed_out while the child runs") {
    FOR_EACH_WAIT_PATH();
    corio::runtime rt;
    auto c = blocked_cat();
    auto r = rt.block_on(corio::with_timeout(20ms, c.wait()));
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::timed_out);
    (void)c.stdin_pipe.close();
    CHECK(rt.block_on(c.wait()));
}

corio::task<std::vector<corio::result<exit_status>>> wait_all(
    std::vector<corio::process::child>& cs) {
    std::vector<corio::task<corio::result<exit_status>>> waits;
    for (auto& c : cs) {
        waits.push_back(c.wait());
    }
    co_return co_await corio::when_all(std::move(waits));
}

TEST_CASE("twenty children waited for at once each report their own exit code") {
    FOR_EACH_WAIT_PATH();
    corio::runtime rt;
    std::vector<corio::process::child> cs;
    for (int i = 0; i < 20; ++i) {
        auto c = corio::process::spawn({"sh", "-c", "exit " + std::to_string(i)});
        REQUIRE(c);
        cs.push_back(std::move(*c));
    }
    auto statuses = rt.block_on(wait_all(cs));
    REQUIRE(statuses.size() == 20);
    for (int i = 0; i < 20; ++i) {
        REQUIRE(statuses[i]);
        CHECK(statuses[i]->code() == i);
    }
}

TEST_CASE("a child dropped without wait is reaped in the background: no zombie") {
    FOR_EACH_WAIT_PATH();
    int pid = -1;
    {
        auto c = blocked_cat();
        pid = c.id();
    }  // its stdin pipe closes with it: cat exits, and nobody waited
    CHECK(reaped_soon(pid));
}

TEST_CASE("with kill_on_drop, a dropped child is killed and reaped") {
    FOR_EACH_WAIT_PATH();
    int pid = -1;
    {
        auto c = corio::process::spawn({"sleep", "1000"}, {.kill_on_drop = true});
        REQUIRE(c);
        pid = c->id();
    }
    CHECK(reaped_soon(pid));
}

corio::task<void> second_wait(corio::process::child& c, int& usage_errors) {
    try {
        (void)co_await c.wait();
    } catch (const corio::usage_error&) {
        ++usage_errors;
    }
}

corio::task<void> close_stdin(corio::process::child& c) {
    (void)c.stdin_pipe.close();
    co_return;
}

corio::task<corio::result<exit_status>> two_waits(corio::process::child& c, int& usage_errors) {
    corio::spawn(second_wait(c, usage_errors));  // both run once the wait below has parked
    corio::spawn(close_stdin(c));
    co_return co_await c.wait();
}

TEST_CASE("a second concurrent wait throws usage_error; the first still completes") {
    FOR_EACH_WAIT_PATH();
    corio::runtime rt;
    auto c = blocked_cat();
    int usage_errors = 0;
    auto status = rt.block_on(two_waits(c, usage_errors));
    CHECK(usage_errors == 1);
    REQUIRE(status);
    CHECK(status->success());
}

corio::task<void> drop_child(std::optional<corio::process::child>& c) {
    c.reset();
    co_return;
}

corio::task<corio::result<exit_status>> wait_then_drop(std::optional<corio::process::child>& c) {
    corio::spawn(drop_child(c));  // runs once the wait below has parked
    co_return co_await c->wait();
}

TEST_CASE("destroying a child while it is waited for ends the wait with errc::closed") {
    FOR_EACH_WAIT_PATH();
    corio::runtime rt;
    std::optional<corio::process::child> c(blocked_cat());
    const int pid = c->id();
    auto r = rt.block_on(wait_then_drop(c));
    REQUIRE_FALSE(r);
    CHECK(r.error() == corio::errc::closed);
    CHECK(reaped_soon(pid));
}

corio::task<void> wait_forever(corio::process::child& c) {
    (void)co_await c.wait();
}

corio::task<void> start_waiting(corio::process::child& c) {
    corio::spawn(wait_forever(c));
    co_await corio::yield();  // the spawned wait runs first, and parks
}

TEST_CASE("a runtime destroyed while a wait is suspended lets it go cleanly") {
    FOR_EACH_WAIT_PATH();
    auto c = blocked_cat();
    {
        corio::runtime rt;
        rt.block_on(start_waiting(c));
    }
    (void)c.stdin_pipe.close();
    corio::runtime again;
    auto status = again.block_on(c.wait());
    REQUIRE(status);
    CHECK(status->success());
}

TEST_CASE("an empty child refuses wait, try_wait and kill with usage_error") {
    corio::process::child c;
    CHECK(c.id() == -1);
    CHECK_THROWS_AS(c.try_wait(), corio::usage_error);
    CHECK_THROWS_AS(c.kill(), corio::usage_error);
    CHECK_THROWS_AS(c.wait(), corio::usage_error);
}

}  // namespace
