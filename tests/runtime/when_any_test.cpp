// SPDX-License-Identifier: MIT
// Tests for corio/when_any.hpp: the first to finish wins, the others are cancelled and awaited,
// a loser's result is dropped, and a storm of cancellations always gives exactly one winner.
#include <corio/when_any.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>
#include <corio/when_all.hpp>

#include "support/live_counter.hpp"
#include "support/task_outcome.hpp"

#include <chrono>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio_test::ending;
using corio_test::live_object;
using corio_test::what_it_threw;

corio::task<int> wait_then(corio::event& e, int value, ending& out, int& live) {
    live_object alive(live);
    auto r = co_await e.wait();
    out = {r.error(), true};
    co_return value;
}

corio::task<std::string> text_after_yields(int yields, std::string s, int& live) {
    live_object alive(live);
    for (int i = 0; i < yields; ++i) {
        co_await corio::yield{};
    }
    co_return s;
}

using mixed_result = corio::when_any_result<int, std::string, int>;

corio::task<mixed_result> second_wins(corio::event& never, ending& a, ending& c, int& live) {
    co_return co_await corio::when_any(wait_then(never, 1, a, live),
                                       text_after_yields(2, "two", live),
                                       wait_then(never, 3, c, live));
}

TEST_CASE("when_any returns the first to finish and cancels and awaits the others") {
    corio::runtime rt;
    corio::event never;
    ending a;
    ending c;
    int live = 0;
    mixed_result r = rt.block_on(second_wins(never, a, c, live));
    CHECK(r.index == 1);
    CHECK(r.value.index() == 1);
    CHECK(std::get<1>(r.value) == "two");
    CHECK(a.ended);
    CHECK(a.error == std::errc::operation_canceled);
    CHECK(c.ended);
    CHECK(c.error == std::errc::operation_canceled);
    CHECK(live == 0);
}

corio::task<int> now(int v) { co_return v; }

corio::task<corio::when_any_range_result<int>> at_once_wins(corio::event& open, ending& later,
                                                            int& live) {
    std::vector<corio::task<int>> tasks;
    tasks.push_back(now(5));
    tasks.push_back(wait_then(open, 6, later, live));  // the event is set: it would succeed
    co_return co_await corio::when_any(std::move(tasks));
}

TEST_CASE("a task that finishes at once wins, and those after it start cancelled") {
    corio::runtime rt;
    corio::event open;
    open.set();
    ending later;
    int live = 0;
    auto r = rt.block_on(at_once_wins(open, later, live));
    CHECK(r.index == 0);
    CHECK(r.value == 5);
    // A wait on a set event completes without looking at the token: the loser ran, its value
    // was dropped.
    CHECK(later.ended);
    CHECK(live == 0);
}

corio::task<int> set_after_yield(corio::event& e, int value) {
    co_await corio::yield{};
    e.set();  // wakes both waiters in the same turn: neither is cancellable any more
    co_return value;
}

corio::task<corio::when_any_range_result<int>> raced(corio::event& e, ending& first,
                                                     ending& second, int& live) {
    std::vector<corio::task<int>> tasks;
    tasks.push_back(wait_then(e, 1, first, live));
    tasks.push_back(wait_then(e, 2, second, live));
    tasks.push_back(set_after_yield(e, 3));
    co_return co_await corio::when_any(std::move(tasks));
}

TEST_CASE("a loser that completed in the same turn as the winner has its result dropped") {
    corio::runtime rt;
    corio::event e;
    ending first;
    ending second;
    int live = 0;
    auto r = rt.block_on(raced(e, first, second, live));
    // The setter finishes (and wins) before the woken waiters run; both then complete anyway.
    CHECK(r.index == 2);
    CHECK(r.value == 3);
    CHECK(first.ended);
    CHECK(second.ended);
    CHECK_FALSE(second.error);
    CHECK(live == 0);
}

corio::task<int> throw_after_yields(int yields, const char* what, int& live) {
    live_object alive(live);
    for (int i = 0; i < yields; ++i) {
        co_await corio::yield{};
    }
    throw std::runtime_error(what);
}

TEST_CASE("when_any rethrows the winner's exception after the others ended; a loser's is dropped") {
    corio::runtime rt;
    corio::event never;
    ending other;
    int live = 0;
    CHECK(rt.block_on(what_it_threw(corio::when_any(wait_then(never, 1, other, live),
                                                    throw_after_yields(1, "winner", live),
                                                    throw_after_yields(2, "loser", live)))) ==
          "winner");
    CHECK(other.ended);
    CHECK(other.error == std::errc::operation_canceled);
    CHECK(live == 0);
}

corio::task<corio::result<void>> sleep_long(ending& out, int& live) {
    live_object alive(live);
    auto r = co_await corio::sleep_for(1h);
    out = {r.error(), true};
    co_return r;
}

corio::task<corio::result<void>> wait_result(corio::event& e, ending& out, int& live) {
    live_object alive(live);
    auto r = co_await e.wait();
    out = {r.error(), true};
    co_return r;
}

using timed_any = corio::when_any_result<corio::result<void>, corio::result<void>>;

corio::task<corio::result<timed_any>> timed(corio::event& never, ending& a, ending& b, int& live) {
    co_return co_await corio::with_timeout(
        1ms, corio::when_any(sleep_long(a, live), wait_result(never, b, live)));
}

TEST_CASE("with_timeout around when_any cancels every task inside and yields timed_out") {
    corio::runtime rt;
    corio::event never;
    ending a;
    ending b;
    int live = 0;
    auto r = rt.block_on(timed(never, a, b, live));
    CHECK(r.error() == std::errc::timed_out);
    CHECK(a.ended);
    CHECK(a.error == std::errc::operation_canceled);
    CHECK(b.ended);
    CHECK(b.error == std::errc::operation_canceled);
    CHECK(live == 0);
}

TEST_CASE("when_any of an empty vector, or of an empty task, is a usage_error at the call") {
    CHECK_THROWS_AS(corio::when_any(std::vector<corio::task<int>>{}), corio::usage_error);
    corio::task<int> empty;
    CHECK_THROWS_AS(corio::when_any(std::move(empty)), corio::usage_error);
}

// The storm: each round races an event wait, a run of yields and a zero sleep against a stop of
// the caller's token and a set of the event, both at round-dependent points.
corio::task<int> tagged_wait(corio::event& e, int tag, int& live, int& ended) {
    live_object alive(live);
    (void)co_await e.wait();
    ++ended;
    co_return tag;
}

corio::task<int> tagged_yields(int yields, int tag, int& live, int& ended) {
    live_object alive(live);
    for (int i = 0; i < yields; ++i) {
        co_await corio::yield{};
    }
    ++ended;
    co_return tag;
}

corio::task<int> tagged_sleep(int tag, int& live, int& ended) {
    live_object alive(live);
    (void)co_await corio::sleep_for(0ms);
    ++ended;
    co_return tag;
}

corio::task<void> disturb(int round, std::stop_source& source, corio::event& e) {
    for (int i = 0; i < round % 5; ++i) {
        co_await corio::yield{};
    }
    if (round % 3 != 0) {
        source.request_stop();
    }
    if (round % 2 == 0) {
        e.set();
    }
}

corio::task<bool> one_round(int round, int& live, int& ended) {
    std::stop_source source;
    corio::event e;
    std::vector<corio::task<int>> tasks;
    tasks.push_back(tagged_wait(e, 0, live, ended));
    tasks.push_back(tagged_yields(round % 7, 1, live, ended));
    tasks.push_back(tagged_sleep(2, live, ended));
    auto [any, none] = co_await corio::when_all(
        corio::with_stop_token(source.get_token(), corio::when_any(std::move(tasks))),
        disturb(round, source, e));
    (void)none;
    co_return any.index < 3 && any.value == static_cast<int>(any.index);
}

corio::task<int> storm(int rounds, int& live, int& ended) {
    int good = 0;
    for (int round = 0; round < rounds; ++round) {
        const bool ok = co_await one_round(round, live, ended);
        good += ok ? 1 : 0;
        if (live != 0 || ended != 3 * (round + 1)) {
            break;
        }
    }
    co_return good;
}

TEST_CASE("a storm of cancellations: every round has exactly one winner and frees every frame") {
    corio::runtime rt;
    int live = 0;
    int ended = 0;
    constexpr int rounds = 1000;
    CHECK(rt.block_on(storm(rounds, live, ended)) == rounds);
    CHECK(ended == 3 * rounds);  // every task ran to its end: cancelled waits resume, not vanish
    CHECK(live == 0);
}

}  // namespace
