// SPDX-License-Identifier: MIT
// Tests for the process-wide limit on getaddrinfo calls at once (corio/net/resolve.hpp):
// many concurrent resolutions all answer, cancelled ones give their turn back, and the limit is
// fixed once resolutions began.
#include <corio/net/resolve.hpp>

#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/semaphore.hpp>
#include <corio/spawn_blocking.hpp>
#include <corio/task_group.hpp>

#include <catch2/catch.hpp>

#include "support/blocking_gate.hpp"

#include <chrono>
#include <cstddef>
#include <stop_token>
#include <system_error>
#include <vector>

using corio::task;
using corio::net::endpoint;

namespace {

task<void> resolve_localhost(std::vector<endpoint>& first, std::size_t& failed) {
    auto found = co_await corio::net::resolve("localhost", 80);
    if (!found) {
        ++failed;
        co_return;
    }
    first.push_back(found->front());
}

task<void> resolve_many(std::size_t n, std::vector<endpoint>& first, std::size_t& failed) {
    corio::task_group group;
    for (std::size_t i = 0; i < n; ++i) {
        group.spawn(resolve_localhost(first, failed));
    }
    (void)co_await group.join();
}

task<void> hold_pool(corio_test::blocking_gate& hold, corio::event& released) {
    (void)co_await corio::spawn_blocking([&hold] { return hold.wait(); });
    released.set();
}

task<void> resolve_until_stopped(std::stop_token token, std::error_code& got, std::size_t& left,
                                 corio::event& all_done) {
    auto found = co_await corio::net::resolve("localhost", 80, {}, std::move(token));
    got = found ? std::error_code{} : found.error();
    if (--left == 0) {
        all_done.set();
    }
}

task<corio::result<void>> wait_for(corio::event& e) { co_return co_await e.wait(); }

task<void> resolve_last(corio::result<std::vector<endpoint>>& got, corio::event& done) {
    got = co_await corio::net::resolve("localhost", 80);
    done.set();
}

}  // namespace

TEST_CASE("resolutions cancelled while they hold every turn give them back: one waiting behind "
          "them is answered",
          "[resolve_limit_test]") {
    corio::runtime rt(corio_test::with_blocking_threads(1));
    rt.block_on([]() -> task<void> {
        corio_test::blocking_gate hold;  // the pool's only thread waits here: getaddrinfo waits too
        corio::event released;
        corio::spawn(hold_pool(hold, released));
        const std::size_t limit = corio::net::max_concurrent_resolutions();
        std::stop_source stop;
        std::vector<std::error_code> got(limit);
        std::size_t left = limit;
        corio::event cancelled;
        for (std::size_t i = 0; i < limit; ++i) {
            corio::spawn(resolve_until_stopped(stop.get_token(), got[i], left, cancelled));
        }
        corio::result<std::vector<endpoint>> last = std::make_error_code(std::errc::not_connected);
        corio::event answered;
        corio::spawn(resolve_last(last, answered));
        co_await corio::yield{};  // every turn is taken and the last one waits for a turn
        stop.request_stop();
        (void)co_await cancelled.wait();
        for (const std::error_code& e : got) {
            CHECK(e == std::errc::operation_canceled);
        }
        hold.open();
        const auto in_time = co_await corio::with_timeout(std::chrono::seconds(20), wait_for(answered));
        INFO("the resolution waiting behind the cancelled ones never got a turn");
        REQUIRE(in_time);
        REQUIRE(last);
        CHECK(last->front().address().is_loopback());
        (void)co_await released.wait();
    }());
}

TEST_CASE("1000 concurrent resolutions of localhost all answer with a loopback endpoint, "
          "above the limit on getaddrinfo calls at once",
          "[resolve_limit_test]") {
    REQUIRE(corio::net::max_concurrent_resolutions() >= 4);
    REQUIRE(1000 > corio::net::max_concurrent_resolutions());
    corio::runtime rt;
    std::vector<endpoint> first;
    std::size_t failed = 0;
    rt.block_on(resolve_many(1000, first, failed));
    CHECK(failed == 0);
    REQUIRE(first.size() == 1000);
    for (const endpoint& e : first) {
        REQUIRE(e.address().is_loopback());
        REQUIRE(e.port() == 80);
    }
}

TEST_CASE("set_max_concurrent_resolutions refuses 0, too many, and any change after a "
          "resolution ran getaddrinfo",
          "[resolve_limit_test]") {
    REQUIRE_THROWS_AS(corio::net::set_max_concurrent_resolutions(0), corio::usage_error);
    REQUIRE_THROWS_AS(corio::net::set_max_concurrent_resolutions(corio::semaphore::max_permits + 1),
                      corio::usage_error);
    corio::runtime rt;
    std::vector<endpoint> first;
    std::size_t failed = 0;
    rt.block_on(resolve_many(1, first, failed));
    REQUIRE(failed == 0);
    const std::size_t before = corio::net::max_concurrent_resolutions();
    REQUIRE_THROWS_AS(corio::net::set_max_concurrent_resolutions(before + 1), corio::usage_error);
    REQUIRE(corio::net::max_concurrent_resolutions() == before);
}
