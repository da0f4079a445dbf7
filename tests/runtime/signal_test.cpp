// SPDX-License-Identifier: MIT
// Tests for corio/signal.hpp: wait_signal delivery, invalid signals, cancellation, dispositions.
#include <corio/signal.hpp>

#include <catch2/catch.hpp>

#include "support/marked_disposition.hpp"

#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <csignal>
#include <stop_token>
#include <system_error>
#include <utility>
#include <vector>

#include <signal.h>

namespace {

using corio_test::marked_disposition;

corio::task<void> raise_signal(int sig) {
    ::raise(sig);
    co_return;
}

corio::task<corio::result<int>> wait_then_raise(corio::signal_set signals, int sig) {
    corio::spawn(raise_signal(sig));  // runs once the wait is pending
    co_return co_await corio::wait_signal(signals);
}

TEST_CASE("wait_signal returns the number of the signal raised while it waits") {
    marked_disposition usr1(SIGUSR1);
    corio::runtime rt;
    auto r = rt.block_on(wait_then_raise({SIGUSR1}, SIGUSR1));
    REQUIRE(r);
    CHECK(*r == SIGUSR1);
    CHECK(usr1.in_place());  // the previous disposition is back
}

TEST_CASE("wait_signal on several signals returns the one that came") {
    marked_disposition usr1(SIGUSR1);
    marked_disposition usr2(SIGUSR2);
    corio::runtime rt;
    auto r = rt.block_on(wait_then_raise({SIGUSR1, SIGUSR2}, SIGUSR2));
    REQUIRE(r);
    CHECK(*r == SIGUSR2);
    CHECK(usr1.in_place());
    CHECK(usr2.in_place());
}

corio::task<void> wait_into(int sig, std::vector<int>& got) {
    auto r = co_await corio::wait_signal({sig});
    got.push_back(r ? *r : -1);
}

corio::task<void> raise_after_yield(int sig) {
    co_await corio::yield{};
    ::raise(sig);
}

corio::task<std::vector<int>> two_waits_one_signal(int sig) {
    std::vector<int> got;
    corio::spawn(wait_into(sig, got));
    corio::spawn(raise_after_yield(sig));
    (void)co_await corio::wait_signal({sig});
    got.push_back(sig);
    co_await corio::yield{};
    co_await corio::yield{};
    co_return got;
}

TEST_CASE("one signal is delivered to every pending wait for it") {
    marked_disposition usr1(SIGUSR1);
    corio::runtime rt;
    std::vector<int> got = rt.block_on(two_waits_one_signal(SIGUSR1));
    CHECK(got == std::vector<int>{SIGUSR1, SIGUSR1});
    CHECK(usr1.in_place());
}

corio::task<std::error_code> wait_error(corio::signal_set signals) {
    auto r = co_await corio::wait_signal(signals);
    co_return r.error();
}

TEST_CASE("wait_signal for a signal that cannot be caught reports EINVAL") {
    corio::runtime rt;
    const int sig = GENERATE(SIGKILL, SIGSTOP, 65, -1);
    CAPTURE(sig);
    CHECK(rt.block_on(wait_error({sig})) == std::errc::invalid_argument);
    CHECK(rt.block_on(wait_error({SIGUSR1, sig})) == std::errc::invalid_argument);
}

TEST_CASE("a refused signal leaves the dispositions of the others in the set as they were") {
    marked_disposition usr1(SIGUSR1);
    corio::runtime rt;
    // glibc reserves signal 32 for itself: sigaction refuses it with EINVAL after SIGUSR1,
    // lower in the set, has been installed.
    CHECK(rt.block_on(wait_error({SIGUSR1, 32})) == std::errc::invalid_argument);
    CHECK(usr1.in_place());
    // And SIGUSR1 can still be waited for and restored.
    auto r = rt.block_on(wait_then_raise({SIGUSR1}, SIGUSR1));
    CHECK(r.value_or(0) == SIGUSR1);
    CHECK(usr1.in_place());
}

corio::task<void> request_stop(std::stop_source& source) {
    source.request_stop();
    co_return;
}

corio::task<std::pair<std::error_code, bool>> cancelled_wait(int sig,
                                                             const marked_disposition& marked) {
    std::stop_source source;
    corio::spawn(request_stop(source));
    auto r = co_await corio::wait_signal({sig}, source.get_token());
    co_return std::pair{r.error(), marked.in_place()};
}

corio::task<bool> replaced_while_waiting(const marked_disposition& marked, bool& replaced) {
    replaced = !marked.in_place();
    co_return true;
}

corio::task<std::pair<std::error_code, bool>> check_during_wait(int sig,
                                                                const marked_disposition& marked,
                                                                bool& replaced) {
    corio::spawn(replaced_while_waiting(marked, replaced));
    co_return co_await cancelled_wait(sig, marked);
}

TEST_CASE("a cancelled wait_signal returns operation_canceled and restores the disposition") {
    marked_disposition usr2(SIGUSR2);
    corio::runtime rt;
    bool replaced = false;
    const auto [error, restored] = rt.block_on(check_during_wait(SIGUSR2, usr2, replaced));
    CHECK(replaced);  // while waiting, corio's handler was installed
    CHECK(error == std::errc::operation_canceled);
    CHECK(restored);
}

}  // namespace
