// SPDX-License-Identifier: MIT
// The options structs of the runtime take C++20 designated initializers naming only the fields
// a user sets, as the docs write them (`runtime_options{.threads = 2}`), with -Wextra -Werror:
// g++ 12 flags every omitted member that has no default member initializer.
#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/task_group.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>

namespace {

corio::task<void> fail() {
    co_await corio::yield();
    throw std::runtime_error("first");
}

corio::task<void> wait_for_nothing(int& cancelled) {
    corio::event never;
    const corio::result<void> r = co_await never.wait();
    cancelled += r.error() == std::errc::operation_canceled ? 1 : 0;
}

corio::task<int> fail_then_count(corio::task_group& group, int& cancelled) {
    group.spawn(fail());
    group.spawn(wait_for_nothing(cancelled));
    try {
        co_await group.join();
    } catch (const std::runtime_error&) {
        co_return 1;
    }
    co_return 0;
}

corio::task<int> group_with_options(int& cancelled) {
    corio::task_group group(corio::task_group_options{.cancel_on_error = true});
    co_return co_await fail_then_count(group, cancelled);
}

}  // namespace

TEST_CASE("runtime_options{.threads = 2} builds a runtime of two loops") {
    corio::runtime rt(corio::runtime_options{.threads = 2});
    CHECK(rt.threads() == 2);
    corio::runtime quiet(corio::runtime_options{.stall_threshold = std::chrono::milliseconds(0)});
    CHECK(quiet.threads() == 1);
}

TEST_CASE("task_group_options{.cancel_on_error = true}: the first failure cancels the siblings") {
    corio::runtime rt;
    int cancelled = 0;
    CHECK(rt.block_on(group_with_options(cancelled)) == 1);
    CHECK(cancelled == 1);
}
