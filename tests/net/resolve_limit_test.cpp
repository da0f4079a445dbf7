// SPDX-License-Identifier: MIT
// Tests for the process-wide limit on getaddrinfo calls at once (corio/net/resolve.hpp):
// many concurrent resolutions all answer, and the limit is fixed once resolutions began.
#include <corio/net/resolve.hpp>

#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/semaphore.hpp>
#include <corio/task_group.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
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

}  // namespace

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
