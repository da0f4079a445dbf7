// SPDX-License-Identifier: MIT
// Tests for corio/signal_listener.hpp: signals stay caught between waits, queued deliveries,
// dispositions restored by the last listener, and subscription racing delivery from a thread.
#include <corio/signal_listener.hpp>

#include <catch2/catch.hpp>

#include "support/child_process.hpp"
#include "support/marked_disposition.hpp"

#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using corio_test::marked_disposition;

using namespace std::chrono_literals;
using corio::signal_listener;

// The longest any single wait may take before the test calls it lost (sanitizer builds included).
constexpr auto deadline = 10s;

// Each child takes SIGUSR1 and SIGUSR2's default action (terminate), as a program that never
// touched them.
template <class Body>
std::string run_in_child(Body body) {
    return corio_test::run_in_child(body, {SIGUSR1, SIGUSR2});
}

corio::task<void> raise_signal(int sig) {
    ::raise(sig);
    co_return;
}

// Waits `n` times, with the signal raised alternately while the wait is pending (a spawned
// task that runs once the wait has suspended) and before it starts, i.e. between two waits.
// Returns 0, or 1 + the index of the first wait that did not return SIGUSR1.
corio::task<int> wait_loop(signal_listener& l, int n) {
    for (int i = 0; i < n; ++i) {
        if (i % 2 == 0) {
            corio::spawn(raise_signal(SIGUSR1));
        } else {
            ::kill(::getpid(), SIGUSR1);
        }
        auto r = co_await corio::with_timeout(deadline, l.wait());
        if (r.value_or(0) != SIGUSR1) {
            co_return 1 + i;
        }
    }
    co_return 0;
}

TEST_CASE("a loop of waits on a listener survives signals raised between the waits") {
    const std::string ended = run_in_child([] {
        auto l = signal_listener::open({SIGUSR1});
        if (!l) {
            return 200;
        }
        corio::runtime rt;
        return rt.block_on(wait_loop(*l, 100));
    });
    INFO("exit k: wait number k did not return SIGUSR1; 200: open failed");
    CHECK(ended == "exit 0");
}

// After a burst of 100 signals nobody waited for: one wait returns the signal, and then none
// is pending (coalesced). Returns 0, else which check failed.
corio::task<int> after_burst(signal_listener& l) {
    auto first = co_await corio::with_timeout(deadline, l.wait());
    if (first.value_or(0) != SIGUSR1) {
        co_return 1;
    }
    if (l.try_wait().error() != std::errc::resource_unavailable_try_again) {
        co_return 2;
    }
    std::stop_source stopped;
    stopped.request_stop();
    auto second = co_await l.wait(stopped.get_token());  // must not find a delivery queued
    co_return second.error() == std::errc::operation_canceled ? 0 : 3;
}

TEST_CASE("a burst of 100 signals while nobody waits is kept (coalesced) for the next wait") {
    const std::string ended = run_in_child([] {
        auto l = signal_listener::open({SIGUSR1});
        if (!l) {
            return 200;
        }
        for (int i = 0; i < 100; ++i) {
            ::kill(::getpid(), SIGUSR1);
        }
        corio::runtime rt;
        return rt.block_on(after_burst(*l));
    });
    INFO(
        "exit 1: the wait did not return SIGUSR1; 2: try_wait found a second delivery; "
        "3: a wait with a stopped token found a second delivery; 200: open failed");
    CHECK(ended == "exit 0");
}

corio::task<std::vector<int>> wait_each(std::vector<signal_listener*> listeners) {
    std::vector<int> got;
    for (auto* l : listeners) {
        auto r = co_await corio::with_timeout(deadline, l->wait());
        got.push_back(r.value_or(-1));
    }
    co_return got;
}

TEST_CASE("two listeners of one signal both receive a delivery made before either waits") {
    marked_disposition usr1(SIGUSR1);
    auto a = signal_listener::open({SIGUSR1});
    auto b = signal_listener::open({SIGUSR1, SIGUSR2});
    REQUIRE(a);
    REQUIRE(b);
    ::raise(SIGUSR1);
    corio::runtime rt;
    CHECK(rt.block_on(wait_each({&*a, &*b})) == std::vector<int>{SIGUSR1, SIGUSR1});
}

TEST_CASE("pending deliveries of several signals are taken once each and lowest number first") {
    marked_disposition usr1(SIGUSR1);
    marked_disposition usr2(SIGUSR2);
    auto l = signal_listener::open({SIGUSR1, SIGUSR2});
    REQUIRE(l);
    ::raise(SIGUSR2);
    ::raise(SIGUSR1);
    ::raise(SIGUSR2);
    CHECK(l->try_wait().value_or(0) == SIGUSR1);
    CHECK(l->try_wait().value_or(0) == SIGUSR2);
    CHECK(l->try_wait().error() == std::errc::resource_unavailable_try_again);
}

TEST_CASE("the last listener of a signal to go restores the disposition found by the first") {
    marked_disposition usr1(SIGUSR1);
    std::optional<signal_listener> first(signal_listener::open({SIGUSR1}).value());
    CHECK_FALSE(usr1.in_place());  // caught by corio from open() on, not only while waiting
    std::optional<signal_listener> second(signal_listener::open({SIGUSR1}).value());
    first.reset();
    CHECK_FALSE(usr1.in_place());  // the second still holds it
    signal_listener moved = std::move(*second);
    second.reset();
    CHECK_FALSE(usr1.in_place());  // moving kept the subscription
    ::raise(SIGUSR1);
    CHECK(moved.try_wait().value_or(0) == SIGUSR1);
    moved = signal_listener{};
    CHECK(usr1.in_place());
}

TEST_CASE("open refuses signals that cannot be caught with EINVAL and leaves the others alone") {
    marked_disposition usr1(SIGUSR1);
    // glibc reserves signal 32 for itself: sigaction refuses it after SIGUSR1 is installed.
    const int sig = GENERATE(SIGKILL, SIGSTOP, 65, -1, 32);
    CAPTURE(sig);
    CHECK(signal_listener::open({sig}).error() == std::errc::invalid_argument);
    CHECK(signal_listener::open({SIGUSR1, sig}).error() == std::errc::invalid_argument);
    CHECK(usr1.in_place());
    CHECK(signal_listener::open({0}).error() == std::errc::invalid_argument);  // empty set
}

TEST_CASE("open reports EBUSY while 64 listeners exist and succeeds again once one goes") {
    marked_disposition usr1(SIGUSR1);
    std::vector<signal_listener> open;
    corio::result<signal_listener> next = signal_listener::open({SIGUSR1});
    while (next && open.size() < 100) {
        open.push_back(std::move(*next));
        next = signal_listener::open({SIGUSR1});
    }
    CHECK(open.size() == 64);
    CHECK(next.error() == std::errc::device_or_resource_busy);
    open.pop_back();
    CHECK(signal_listener::open({SIGUSR1}));
    open.clear();
    CHECK(usr1.in_place());
}

corio::task<void> request_stop(std::stop_source& source) {
    source.request_stop();
    co_return;
}

corio::task<std::pair<std::error_code, int>> cancel_then_wait(signal_listener& l) {
    std::stop_source source;
    corio::spawn(request_stop(source));  // runs once the wait is pending
    auto cancelled = co_await l.wait(source.get_token());
    ::raise(SIGUSR1);
    auto next = co_await corio::with_timeout(deadline, l.wait());
    co_return std::pair{cancelled.error(), next.value_or(-1)};
}

TEST_CASE("a cancelled wait returns operation_canceled and the listener keeps working") {
    marked_disposition usr1(SIGUSR1);
    auto l = signal_listener::open({SIGUSR1});
    REQUIRE(l);
    corio::runtime rt;
    const auto [cancelled, next] = rt.block_on(cancel_then_wait(*l));
    CHECK(cancelled == std::errc::operation_canceled);
    CHECK(next == SIGUSR1);
}

corio::task<void> wait_into(signal_listener& l, std::error_code& error) {
    auto r = co_await l.wait();
    error = r.error();
}

corio::task<bool> second_wait_throws(signal_listener& l) {
    std::error_code first_error;
    corio::spawn(wait_into(l, first_error));
    co_await corio::yield{};  // the first wait is now pending
    bool threw = false;
    try {
        (void)co_await l.wait();
    } catch (const corio::usage_error&) {
        threw = true;
    }
    ::raise(SIGUSR1);  // lets the first wait finish
    co_await corio::yield{};
    co_return threw && !first_error;
}

TEST_CASE("a second concurrent wait on one listener throws usage_error") {
    marked_disposition usr1(SIGUSR1);
    auto l = signal_listener::open({SIGUSR1});
    REQUIRE(l);
    corio::runtime rt;
    CHECK(rt.block_on(second_wait_throws(*l)));
    CHECK_THROWS_AS(signal_listener{}.try_wait(), corio::usage_error);
}

corio::task<std::error_code> destroy_while_waiting(std::optional<signal_listener>& l) {
    auto error = std::make_error_code(std::errc::io_error);  // overwritten when the wait ends
    corio::spawn(wait_into(*l, error));
    co_await corio::yield{};
    l.reset();
    co_await corio::yield{};
    co_await corio::yield{};
    co_return error;
}

TEST_CASE("destroying a listener while it is waited on ends the wait with errc::closed") {
    marked_disposition usr1(SIGUSR1);
    std::optional<signal_listener> l(signal_listener::open({SIGUSR1}).value());
    corio::runtime rt;
    CHECK(rt.block_on(destroy_while_waiting(l)) == corio::errc::closed);
    CHECK(usr1.in_place());
}

// Sends SIGUSR1 to the process and to `target` in turn until stopped, so the handler runs
// both on this thread and on the subscribing one, racing open() and the destructor.
class signal_sender {
public:
    explicit signal_sender(pthread_t target)
        : thread_([this, target](std::stop_token stop) {
              while (!stop.stop_requested()) {
                  ::kill(::getpid(), SIGUSR1);
                  ::pthread_kill(target, SIGUSR1);
                  sent_.fetch_add(2, std::memory_order_relaxed);
              }
          }) {}
    long sent() const { return sent_.load(std::memory_order_relaxed); }

private:
    std::atomic<long> sent_{0};
    std::jthread thread_;  // last: stopped and joined before sent_ goes
};

// After a listener is destroyed, a fresh pipe most likely takes the descriptors it closed: no
// handler may write into it. Returns whether a byte came through (or pipe2 failed). Called
// from two threads, so no Catch2 assertion inside.
bool stray_byte_in_new_pipe() {
    int bystander[2];
    if (::pipe2(bystander, O_NONBLOCK | O_CLOEXEC) != 0) {
        return true;
    }
    std::byte stray{};
    const auto n = ::read(bystander[0], &stray, 1);
    ::close(bystander[0]);
    ::close(bystander[1]);
    return n >= 0;
}

// Each round subscribes, waits for one delivery from the sender, and unsubscribes.
// Returns 0, else what failed in which round.
corio::task<int> subscribe_wait_unsubscribe(int rounds) {
    for (int i = 0; i < rounds; ++i) {
        auto l = signal_listener::open({SIGUSR1});
        if (!l) {
            co_return 1000 + i;
        }
        auto r = co_await corio::with_timeout(deadline, l->wait());
        if (r.value_or(0) != SIGUSR1) {
            co_return 2000 + i;
        }
        *l = signal_listener{};
        if (stray_byte_in_new_pipe()) {
            co_return 3000 + i;
        }
    }
    co_return 0;
}

TEST_CASE("subscribing and unsubscribing while another thread keeps sending the signal") {
    marked_disposition usr1(SIGUSR1);  // between two listeners the signal is harmless
    corio::runtime rt;
    std::atomic<int> strays{0};
    // A subscriber that never waits: it claims and frees slots while the others run.
    std::jthread churn([&strays](std::stop_token stop) {
        while (!stop.stop_requested()) {
            {
                auto l = signal_listener::open({SIGUSR1, SIGUSR2});
                (void)l;
            }
            if (stray_byte_in_new_pipe()) {
                strays.fetch_add(1);
            }
        }
    });
    signal_sender sender(::pthread_self());
    const int failed = rt.block_on(subscribe_wait_unsubscribe(200));
    churn.request_stop();
    churn.join();
    INFO(
        "1000+i: open failed, 2000+i: wait i got no SIGUSR1, 3000+i: a stray byte in a new pipe "
        "(or no pipe)");
    CHECK(failed == 0);
    CHECK(strays == 0);
    CHECK(sender.sent() > 0);
}

}  // namespace
