// SPDX-License-Identifier: MIT
// The programs of docs/composition.md, compiled and run: each snippet there is a part of this
// file (between the "docs:" markers), kept word for word.
#include <corio/cancel.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/task_group.hpp>
#include <corio/timer.hpp>
#include <corio/when_all.hpp>
#include <corio/when_any.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

// Stand-ins for real I/O: each takes a while, and honours cancellation like any corio wait.
corio::task<std::string> fetch_user(int id) {
    (void)co_await corio::sleep_for(1ms);
    co_return "user " + std::to_string(id);
}
corio::task<std::vector<int>> fetch_orders(int id) {
    (void)co_await corio::sleep_for(2ms);
    co_return std::vector<int>{id, id + 1};
}
corio::task<corio::result<std::string>> ask_replica(int replica, std::chrono::milliseconds delay) {
    auto slept = co_await corio::sleep_for(delay);
    if (!slept) {
        co_return slept.error();  // cancelled: the other replica answered first
    }
    co_return "answer from " + std::to_string(replica);
}
struct job {
    int id;
    bool broken = false;
};
corio::task<void> process(job j) {
    (void)co_await corio::sleep_for(1ms);
    if (j.broken) {
        throw std::runtime_error("job " + std::to_string(j.id) + " failed");
    }
}

// docs: when_all
corio::task<std::string> profile(int id) {
    // Both requests are in flight at once; profile() resumes when both have answered.
    auto [user, orders] = co_await corio::when_all(fetch_user(id), fetch_orders(id));
    co_return user + ": " + std::to_string(orders.size()) + " orders";
}
// docs: end

// docs: when_any
corio::task<corio::result<std::string>> fastest_answer() {
    std::vector<corio::task<corio::result<std::string>>> asks;
    asks.push_back(ask_replica(1, 50ms));
    asks.push_back(ask_replica(2, 1ms));
    // The slower ask is cancelled (its sleep resumes with operation_canceled) and awaited
    // before when_any returns; its result is dropped.
    auto first = co_await corio::when_any(std::move(asks));
    co_return first.value;
}
// docs: end

// docs: task_group
corio::task<void> process_all(std::vector<job> jobs) {
    corio::task_group_options options;
    options.cancel_on_error = true;  // one failure cancels the rest
    corio::task_group group(options);
    for (const job& j : jobs) {
        group.spawn(process(j));  // starts now, runs until it first waits
    }
    co_await group.join();  // waits for every job, then rethrows the first failure
}
// docs: end

// docs: timeout
corio::task<std::error_code> profile_within(std::chrono::milliseconds limit) {
    // The deadline cancels both requests inside when_all; with_timeout returns once they ended.
    auto r = co_await corio::with_timeout(limit, corio::when_all(fetch_user(1), fetch_orders(1)));
    co_return r.error();  // success, or std::errc::timed_out
}
// docs: end

}  // namespace

TEST_CASE("docs/composition.md: the programs do what the text says") {
    corio::runtime rt;
    CHECK(rt.block_on(profile(7)) == "user 7: 2 orders");
    auto fastest = rt.block_on(fastest_answer());
    REQUIRE(fastest);
    CHECK(*fastest == "answer from 2");
    rt.block_on(process_all({{1}, {2}, {3}}));
    CHECK_THROWS_WITH(rt.block_on(process_all({{1}, {2, true}, {3}})), "job 2 failed");
    CHECK(rt.block_on(profile_within(1h)) == std::error_code{});
    CHECK(rt.block_on(profile_within(0ms)) == std::errc::timed_out);
}
