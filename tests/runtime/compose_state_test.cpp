// SPDX-License-Identifier: MIT
// Tests for detail/compose_state.hpp through when_all and when_any: their children's stop token
// is made only when a child first looks at it (a wait parks, this_task::stop_token()), and
// whenever that happens the token behaves as if it had been there from the start: linked to
// the caller's token, stopped by a sibling's exception or a winner, seen the same by a child
// and by what it awaits.
#include <corio/detail/compose_state.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/when_all.hpp>
#include <corio/when_any.hpp>

#include "support/live_counter.hpp"
#include "support/task_outcome.hpp"

#include <stdexcept>
#include <stop_token>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using corio_test::ending;
using corio_test::live_object;
using corio_test::what_it_threw;

corio::task<int> now(int v) { co_return v; }

corio::task<int> wait_then(corio::event& e, int value, ending& out, int& live) {
    live_object alive(live);
    auto r = co_await e.wait();
    out = {r.error(), true};
    co_return value;
}

// Stops the caller's token from inside the composition, after the siblings started.
corio::task<int> stop_after_yield(std::stop_source& caller, int value) {
    co_await corio::yield{};
    caller.request_stop();
    co_return value;
}

corio::task<int> stop_now(std::stop_source& caller, int value) {
    caller.request_stop();
    co_return value;
}

corio::task<std::tuple<int, int, int>> parked_then_caller_stopped(std::stop_source& caller,
                                                                  corio::event& never,
                                                                  ending& waited, int& live) {
    // The first child ends at once without looking at its token; the second parks (its token
    // is made then); the third stops the caller's token once both are under way.
    co_return co_await corio::with_stop_token(
        caller.get_token(), corio::when_all(now(1), wait_then(never, 2, waited, live),
                                            stop_after_yield(caller, 3)));
}

TEST_CASE("a child parked after its siblings ended at once is cancelled by the caller's stop") {
    corio::runtime rt;
    corio::event never;
    std::stop_source caller;
    ending waited;
    int live = 0;
    auto [a, b, c] = rt.block_on(parked_then_caller_stopped(caller, never, waited, live));
    CHECK(a == 1);
    CHECK(b == 2);
    CHECK(c == 3);
    CHECK(waited.ended);
    CHECK(waited.error == std::errc::operation_canceled);
    CHECK(live == 0);
}

corio::task<std::tuple<int, int>> caller_stopped_before_any_look(std::stop_source& caller,
                                                                 corio::event& never,
                                                                 ending& waited, int& live) {
    // The caller's token is stopped by the first child, before the second asks for its token.
    co_return co_await corio::with_stop_token(
        caller.get_token(),
        corio::when_all(stop_now(caller, 1), wait_then(never, 2, waited, live)));
}

TEST_CASE("a caller stopped before a child first looks at its token: the child sees it stopped") {
    corio::runtime rt;
    corio::event never;
    std::stop_source caller;
    ending waited;
    int live = 0;
    auto [a, b] = rt.block_on(caller_stopped_before_any_look(caller, never, waited, live));
    CHECK(a == 1);
    CHECK(b == 2);
    CHECK(waited.error == std::errc::operation_canceled);
    CHECK(live == 0);
}

corio::task<int> throw_now(const char* what) {
    throw std::runtime_error(what);
    co_return 0;
}

TEST_CASE("after a child threw at once, a later child starts with its token stopped") {
    corio::runtime rt;
    corio::event never;
    ending waited;
    int live = 0;
    CHECK(rt.block_on(what_it_threw(corio::when_all(
              now(1), throw_now("first"), wait_then(never, 3, waited, live)))) == "first");
    CHECK(waited.ended);
    CHECK(waited.error == std::errc::operation_canceled);
    CHECK(live == 0);
}

corio::task<int> copy_token(std::stop_token& out, int value) {
    out = co_await corio::this_task::stop_token();
    co_return value;
}

corio::task<int> throw_after_yield(const char* what) {
    co_await corio::yield{};
    throw std::runtime_error(what);
}

TEST_CASE("a token copied by a child that already ended is stopped when a sibling throws later") {
    corio::runtime rt;
    std::stop_token copied;
    // No caller token: the children's token is when_all's own, and can stop.
    CHECK(rt.block_on(what_it_threw(
              corio::when_all(copy_token(copied, 1), throw_after_yield("later")))) == "later");
    CHECK(copied.stop_possible());
    CHECK(copied.stop_requested());
}

TEST_CASE("children that end without their token being stopped hand back an unstopped copy") {
    corio::runtime rt;
    std::stop_token copied;
    auto [a, b] = rt.block_on(corio::when_all(copy_token(copied, 1), now(2)));
    CHECK(a == 1);
    CHECK(b == 2);
    CHECK_FALSE(copied.stop_requested());
}

corio::task<bool> same_token_below() {
    const std::stop_token mine = co_await corio::this_task::stop_token();
    std::stop_token below;
    (void)co_await copy_token(below, 0);  // an awaited task inherits the child's token
    co_return mine.stop_possible() && mine == below;
}

TEST_CASE("a task a child awaits has the child's token") {
    corio::runtime rt;
    auto [same, other] = rt.block_on(corio::when_all(same_token_below(), now(1)));
    CHECK(same);
    CHECK(other == 1);
}

corio::task<std::tuple<int, int>> inner_when_all(corio::event& never, ending& waited, int& live) {
    co_return co_await corio::when_all(now(1), wait_then(never, 2, waited, live));
}

corio::task<std::tuple<std::tuple<int, int>, int>> nested(std::stop_source& caller,
                                                          corio::event& never, ending& waited,
                                                          int& live) {
    co_return co_await corio::with_stop_token(
        caller.get_token(), corio::when_all(inner_when_all(never, waited, live),
                                            stop_after_yield(caller, 3)));
}

TEST_CASE("the caller's stop reaches a wait inside a when_all inside a when_all") {
    corio::runtime rt;
    corio::event never;
    std::stop_source caller;
    ending waited;
    int live = 0;
    auto [inner, c] = rt.block_on(nested(caller, never, waited, live));
    CHECK(std::get<0>(inner) == 1);
    CHECK(std::get<1>(inner) == 2);
    CHECK(c == 3);
    CHECK(waited.error == std::errc::operation_canceled);
    CHECK(live == 0);
}

TEST_CASE("when_any: a child that wins at once leaves those after it to start cancelled") {
    corio::runtime rt;
    corio::event never;
    ending a;
    ending b;
    int live = 0;
    auto r = rt.block_on(corio::when_any(now(5), wait_then(never, 6, a, live),
                                         wait_then(never, 7, b, live)));
    CHECK(r.index == 0);
    CHECK(std::get<0>(r.value) == 5);
    CHECK(a.error == std::errc::operation_canceled);
    CHECK(b.error == std::errc::operation_canceled);
    CHECK(live == 0);
}

TEST_CASE("when_any of a vector: a winner's token copy is stopped once it won") {
    corio::runtime rt;
    std::stop_token copied;
    std::vector<corio::task<int>> tasks;
    tasks.push_back(copy_token(copied, 1));
    tasks.push_back(now(2));
    auto r = rt.block_on(corio::when_any(std::move(tasks)));
    CHECK(r.index == 0);
    CHECK(r.value == 1);
    CHECK(copied.stop_requested());
}

}  // namespace
