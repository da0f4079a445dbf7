// SPDX-License-Identifier: MIT
// The loops g++ 12 at -O2/-O3 miscompiled (docs/design.md, "A second g++ 12 hazard"): a local
// vector of strings grown after each co_await of a corio task comes back whole. corio's CMake
// target turns off the two passes involved for g++ < 13; without that this test fails.
#include <corio/cancel.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <system_error>
#include <vector>

namespace {

corio::task<int> next(int& counter) {
    co_await corio::yield{};  // suspends: the caller resumes through its continuation
    co_return ++counter;
}

std::string line(int k) { return "/tmp/some/long/path/name/" + std::to_string(k); }

corio::task<std::vector<std::string>> collect(std::size_t n) {
    int counter = 0;
    std::vector<std::string> lines;
    while (lines.size() < n) {
        int k = co_await next(counter);
        lines.push_back(line(k));
    }
    co_return lines;
}

struct collected {
    std::vector<std::string> lines;
    std::error_code error;
};

corio::task<collected> collect_with_timeout(std::size_t n) {
    int counter = 0;
    collected c;
    while (c.lines.size() < n) {
        auto k = co_await corio::with_timeout(std::chrono::seconds(10), next(counter));
        if (!k) {
            c.error = k.error();
            co_return c;
        }
        c.lines.push_back(line(*k));
    }
    co_return c;
}

std::vector<std::string> expected(std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 1; i <= n; ++i) {
        out.push_back(line(static_cast<int>(i)));
    }
    return out;
}

}  // namespace

TEST_CASE("a vector grown after each co_await in a loop is returned whole") {
    corio::runtime rt;
    for (std::size_t n : {1u, 2u, 6u, 100u}) {
        CHECK(rt.block_on(collect(n)) == expected(n));
    }
}

TEST_CASE("a struct holding a vector grown after each co_await with a timeout is returned whole") {
    corio::runtime rt;
    for (std::size_t n : {1u, 6u, 100u}) {
        const collected c = rt.block_on(collect_with_timeout(n));
        CHECK_FALSE(c.error);
        CHECK(c.lines == expected(n));
    }
}
