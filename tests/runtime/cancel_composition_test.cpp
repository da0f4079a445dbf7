// SPDX-License-Identifier: MIT
// Tests for corio/cancel.hpp with compositions (docs/design.md "Cancellation", docs/composition.md):
// the children of when_all and task_group are reached by the caller's cancellation, and
// with_timeout returns only once every one of them has ended.
#include <corio/cancel.hpp>

#include <catch2/catch.hpp>

#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/task_group.hpp>
#include <corio/timer.hpp>
#include <corio/when_all.hpp>

#include "support/live_counter.hpp"

#include <chrono>
#include <stop_token>
#include <system_error>

namespace {

using namespace std::chrono_literals;

corio::task<void> sleep_counted(int& live, int& cancelled) {
    corio_test::live_object alive(live);
    auto r = co_await corio::sleep_for(1h);
    cancelled += r.error() == std::errc::operation_canceled ? 1 : 0;
}

corio::task<void> spawn_children_and_join(int& live, int& cancelled, int children) {
    corio::task_group group;
    for (int i = 0; i < children; ++i) {
        group.spawn(sleep_counted(live, cancelled));
    }
    co_await group.join();
}

corio::task<bool> timed_group(int& live, int& cancelled) {
    auto r = co_await corio::with_timeout(1ms, spawn_children_and_join(live, cancelled, 3));
    // Every child ended (and its frame went) before with_timeout returned.
    co_return r.error() == std::errc::timed_out && live == 0 && cancelled == 3;
}

}  // namespace

TEST_CASE("with_timeout around a function that spawns into a task_group and joins it cancels "
          "and awaits every child") {
    corio::runtime rt;
    int live = 0;
    int cancelled = 0;
    CHECK(rt.block_on(timed_group(live, cancelled)));
    CHECK(live == 0);
}

namespace {

corio::task<bool> token_live_before_stop(const std::stop_source& caller) {
    const std::stop_token mine = co_await corio::this_task::stop_token();
    co_return mine.stop_possible() && !mine.stop_requested() && caller.stop_requested() == false;
}

corio::task<bool> token_after_caller_stopped(std::stop_source& caller) {
    caller.request_stop();
    const std::stop_token mine = co_await corio::this_task::stop_token();
    co_return mine.stop_requested();
}

corio::task<bool> children_see_the_composition_token(std::stop_source& caller) {
    auto [before, after] = co_await corio::when_all(token_live_before_stop(caller),
                                                    token_after_caller_stopped(caller));
    co_return before && after;
}

corio::task<void> compare_token_then_wait(const std::stop_token& expected, bool& same,
                                          std::error_code& waited) {
    const std::stop_token mine = co_await corio::this_task::stop_token();
    same = mine == expected;
    corio::event never;
    waited = (co_await never.wait()).error();
}

corio::task<bool> group_child_token(std::stop_source& caller, bool& seen) {
    corio::task_group group;
    const std::stop_token group_token = group.token();
    std::error_code waited;
    group.spawn(compare_token_then_wait(group_token, seen, waited));
    caller.request_stop();
    co_await group.join();  // joined by a task whose token is stopped: the group stops too
    co_return group_token.stop_requested() && waited == std::errc::operation_canceled;
}

}  // namespace

TEST_CASE("this_task::stop_token in a child of when_all or a task_group is the composition's, "
          "stopped with the caller's") {
    corio::runtime rt;
    std::stop_source caller;
    SECTION("when_all") {
        CHECK(rt.block_on(
            corio::with_stop_token(caller.get_token(), children_see_the_composition_token(caller))));
    }
    SECTION("task_group") {
        bool seen = false;
        CHECK(rt.block_on(corio::with_stop_token(caller.get_token(), group_child_token(caller, seen))));
        CHECK(seen);
    }
}
