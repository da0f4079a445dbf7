// SPDX-License-Identifier: MIT
// Tests for corio/task_group.hpp: children start at once, join waits for all (late ones too) and
// rethrows the first exception, cancellation reaches children, and destroying a group mid-flight
// destroys its children's frames.
#include <corio/task_group.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include "support/live_counter.hpp"
#include "support/task_outcome.hpp"

#include <chrono>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace {

using namespace std::chrono_literals;
using corio_test::ending;
using corio_test::live_object;
using corio_test::what_it_threw;

corio::task<void> wait_on(corio::event& e, ending& out, int& live) {
    live_object alive(live);
    auto r = co_await e.wait();
    out = {r.error(), true};
}

corio::task<int> mark_then_yield(bool& started, bool& finished, int& live) {
    live_object alive(live);
    started = true;
    co_await corio::yield{};
    finished = true;
    co_return 1;
}

corio::task<bool> starts_at_once(int& live) {
    corio::task_group group;
    bool started = false;
    bool finished = false;
    group.spawn(mark_then_yield(started, finished, live));
    const bool ran_inside_spawn = started && !finished;
    CHECK(group.size() == 1);
    co_await group.join();
    CHECK(group.size() == 0);
    co_return ran_inside_spawn && finished;
}

TEST_CASE("task_group::spawn runs the child at once until it first suspends; join waits for it") {
    corio::runtime rt;
    int live = 0;
    CHECK(rt.block_on(starts_at_once(live)));
    CHECK(live == 0);
}

corio::task<void> spawn_late_sibling(corio::task_group& group, corio::event& e, ending& out,
                                     int& live) {
    co_await corio::yield{};  // join has started by now
    group.spawn(wait_on(e, out, live));
    co_await corio::yield{};
    e.set();
}

corio::task<bool> joins_late_children(int& live) {
    corio::task_group group;
    corio::event e;
    ending late;
    group.spawn(spawn_late_sibling(group, e, late, live));
    co_await group.join();
    co_return late.ended && !late.error;
}

TEST_CASE("join waits for children spawned while it waits") {
    corio::runtime rt;
    int live = 0;
    CHECK(rt.block_on(joins_late_children(live)));
    CHECK(live == 0);
}

corio::task<void> throw_after_yields(int yields, const char* what) {
    for (int i = 0; i < yields; ++i) {
        co_await corio::yield{};
    }
    throw std::runtime_error(what);
}

corio::task<void> set_after_yields(int yields, corio::event& e) {
    for (int i = 0; i < yields; ++i) {
        co_await corio::yield{};
    }
    e.set();
}

corio::task<std::string> first_error(corio::task_group_options options, ending& waiter,
                                     int& live) {
    corio::task_group group(std::move(options));
    corio::event e;
    group.spawn(throw_after_yields(1, "first"));
    group.spawn(throw_after_yields(2, "second"));
    group.spawn(wait_on(e, waiter, live));
    group.spawn(set_after_yields(3, e));
    try {
        co_await group.join();
    } catch (const std::runtime_error& ex) {
        CHECK(group.size() == 0);
        co_return ex.what();
    }
    co_return "nothing thrown";
}

TEST_CASE("join rethrows the first exception of a child, once every child has ended") {
    corio::runtime rt;
    int live = 0;
    ending waiter;
    SECTION("by default the siblings run on") {
        CHECK(rt.block_on(first_error({}, waiter, live)) == "first");
        CHECK(waiter.ended);
        CHECK_FALSE(waiter.error);
    }
    SECTION("with cancel_on_error the first exception cancels the siblings") {
        corio::task_group_options options;
        options.cancel_on_error = true;
        CHECK(rt.block_on(first_error(options, waiter, live)) == "first");
        CHECK(waiter.ended);
        CHECK(waiter.error == std::errc::operation_canceled);
    }
    CHECK(live == 0);
}

corio::task<bool> cancel_reaches_children(int& live) {
    corio::task_group group;
    corio::event never;
    ending a;
    ending b;
    group.spawn(wait_on(never, a, live));
    group.cancel();
    group.spawn(wait_on(never, b, live));  // starts cancelled
    co_await group.join();
    co_return a.error == std::errc::operation_canceled &&
              b.error == std::errc::operation_canceled && group.token().stop_requested();
}

TEST_CASE("cancel() cancels the children's waits, and later children start cancelled") {
    corio::runtime rt;
    int live = 0;
    CHECK(rt.block_on(cancel_reaches_children(live)));
    CHECK(live == 0);
}

corio::task<void> stop_after_yield(std::stop_source& source) {
    co_await corio::yield{};
    source.request_stop();
}

corio::task<void> spawn_and_join(corio::event& never, ending& a, ending& b, int& live) {
    corio::task_group group;
    group.spawn(wait_on(never, a, live));
    group.spawn(wait_on(never, b, live));
    co_await group.join();
}

corio::task<void> spawn_wait_then_join(corio::event& never, ending& a, int& live) {
    corio::task_group group;
    group.spawn(wait_on(never, a, live));
    // The caller is cancelled while we wait here, before join: join then stops the group.
    (void)co_await corio::sleep_for(1h);
    co_await group.join();
}

TEST_CASE("the ambient token of the task awaiting join reaches the children") {
    corio::runtime rt;
    corio::event never;
    std::stop_source source;
    ending a;
    ending b;
    int live = 0;
    SECTION("stopped while join waits") {
        rt.spawn(stop_after_yield(source));
        rt.block_on(corio::with_stop_token(source.get_token(), spawn_and_join(never, a, b, live)));
        CHECK(b.error == std::errc::operation_canceled);
    }
    SECTION("stopped before join is awaited") {
        rt.spawn(stop_after_yield(source));
        rt.block_on(corio::with_stop_token(source.get_token(), spawn_wait_then_join(never, a, live)));
    }
    CHECK(a.ended);
    CHECK(a.error == std::errc::operation_canceled);
    CHECK(live == 0);
}

corio::task<bool> parent_token_without_join(std::stop_source& source, int& live) {
    corio::task_group_options options;
    options.stop_token = source.get_token();
    corio::task_group group(options);
    corio::event never;
    ending a;
    group.spawn(wait_on(never, a, live));
    source.request_stop();
    co_await corio::yield{};  // the cancelled child runs before us: no join needed
    const bool ended_before_join = a.ended && a.error == std::errc::operation_canceled;
    co_await group.join();
    co_return ended_before_join;
}

TEST_CASE("options.stop_token stops the group for its whole life") {
    corio::runtime rt;
    std::stop_source source;
    int live = 0;
    CHECK(rt.block_on(parent_token_without_join(source, live)));
    CHECK(live == 0);
}

corio::task<void> sleep_long(int& live) {
    live_object alive(live);
    (void)co_await corio::sleep_for(1h);
}

corio::task<bool> destroyed_mid_flight(corio::event& e, ending& woken, int& live) {
    {
        corio::task_group group;
        group.spawn(wait_on(e, woken, live));
        group.spawn(sleep_long(live));
        CHECK(live == 2);
    }  // destroyed without join: both frames go here
    const bool gone = live == 0;
    e.set();  // would resume the first child had its wait not unlinked itself
    co_await corio::yield{};
    co_return gone;
}

TEST_CASE("destroying a group destroys its suspended children; nothing resumes them later") {
    corio::runtime rt;
    corio::event e;
    ending woken;
    int live = 0;
    CHECK(rt.block_on(destroyed_mid_flight(e, woken, live)));
    CHECK_FALSE(woken.ended);  // destroyed, not resumed with a cancellation
    CHECK(live == 0);
}

corio::task<void> join_forever(corio::event& never, ending& a, ending& b, int& live,
                               bool& joining) {
    corio::task_group group;
    group.spawn(wait_on(never, a, live));
    group.spawn(wait_on(never, b, live));
    joining = true;
    co_await group.join();
}

corio::task<void> yield_once() { co_await corio::yield{}; }

TEST_CASE("a runtime destroyed while a task joins its group destroys the children too") {
    int live = 0;
    bool joining = false;
    corio::event never;
    ending a;
    ending b;
    {
        corio::runtime rt;
        rt.spawn(join_forever(never, a, b, live, joining));
        rt.block_on(yield_once());
        REQUIRE(joining);
        CHECK(live == 2);
    }
    CHECK(live == 0);
    CHECK_FALSE(a.ended);
}

corio::task<bool> cancelled_from_a_thread(int& live) {
    corio::task_group group;
    corio::event never;
    ending a;
    group.spawn(wait_on(never, a, live));
    std::thread canceller([&group] { group.cancel(); });
    co_await group.join();
    canceller.join();
    co_return a.error == std::errc::operation_canceled;
}

TEST_CASE("cancel() from another thread cancels the children on their loop") {
    corio::runtime rt;
    int live = 0;
    CHECK(rt.block_on(cancelled_from_a_thread(live)));
    CHECK(live == 0);
}

corio::task<void> nothing() { co_return; }

corio::task<void> spawn_into(corio::task_group& group) {
    group.spawn(nothing());
    co_return;
}

TEST_CASE("task_group::spawn outside a loop, on a second loop or of an empty task throws") {
    corio::task_group group;
    CHECK_THROWS_AS(group.spawn(nothing()), corio::usage_error);
    corio::runtime first;
    corio::runtime second;
    first.block_on(spawn_into(group));
    CHECK_THROWS_AS(second.block_on(spawn_into(group)), corio::usage_error);
    CHECK(group.size() == 0);
}

corio::task<bool> join_of_an_empty_group() {
    corio::task_group group;
    co_await group.join();
    group.spawn(nothing());  // ends inside spawn
    co_return group.size() == 0;
}

TEST_CASE("join of a group with no running child returns at once") {
    corio::runtime rt;
    CHECK(rt.block_on(join_of_an_empty_group()));
}

}  // namespace
