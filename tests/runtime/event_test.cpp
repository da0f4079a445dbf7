// SPDX-License-Identifier: MIT
// Tests for corio/event.hpp: set, reset, waiting, cancellation and destruction with waiters.
#include <corio/event.hpp>

#include <catch2/catch.hpp>

#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/loop_thread.hpp"

#include <latch>
#include <memory>
#include <stop_token>
#include <thread>
#include <system_error>
#include <utility>
#include <vector>

namespace {

// What the waiters of one test saw, in the order they resumed.
struct wait_log {
    std::vector<std::pair<int, std::error_code>> resumed;
};

corio::task<void> waiter(corio::event& e, int id, wait_log& log, std::stop_token token = {}) {
    auto r = co_await e.wait(std::move(token));
    log.resumed.emplace_back(id, r.error());
}

corio::task<void> set_flag(bool& flag) {
    flag = true;
    co_return;
}

corio::task<bool> wait_on_set_event(corio::event& e, bool& other_ran) {
    corio::spawn(set_flag(other_ran));
    auto r = co_await e.wait();
    CHECK(r);
    co_return other_ran;
}

TEST_CASE("waiting on a set event completes without suspending") {
    corio::runtime rt;
    corio::event e;
    CHECK_FALSE(e.is_set());
    e.set();
    CHECK(e.is_set());
    bool other_ran = false;
    // Had the wait suspended, the task spawned just before it would have run first.
    CHECK_FALSE(rt.block_on(wait_on_set_event(e, other_ran)));
}

corio::task<std::size_t> set_and_look(corio::event& e, wait_log& log) {
    const std::size_t before = log.resumed.size();
    e.set();
    const std::size_t during = log.resumed.size();  // set() only schedules the waiters
    co_await corio::yield{};
    CHECK(during == before);
    co_return log.resumed.size();
}

TEST_CASE("set() resumes every waiter, in the order they started waiting") {
    corio::runtime rt;
    corio::event e;
    wait_log log;
    for (int id : {1, 2, 3}) {
        rt.spawn(waiter(e, id, log));
    }
    CHECK(rt.block_on(set_and_look(e, log)) == 3);
    REQUIRE(log.resumed.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(log.resumed[i].first == i + 1);
        CHECK_FALSE(log.resumed[i].second);
    }
}

corio::task<void> set_event(corio::event& e) {
    e.set();
    co_return;
}

corio::task<bool> reset_then_wait(corio::event& e, bool& other_ran) {
    e.reset();
    CHECK_FALSE(e.is_set());
    corio::spawn(set_flag(other_ran));
    corio::spawn(set_event(e));
    auto r = co_await e.wait();
    CHECK(r);
    co_return other_ran;
}

TEST_CASE("after reset() a wait suspends until the next set()") {
    corio::runtime rt;
    corio::event e;
    e.set();
    bool other_ran = false;
    CHECK(rt.block_on(reset_then_wait(e, other_ran)));
}

corio::task<void> stop_one_then_set(std::stop_source& source, corio::event& e) {
    source.request_stop();
    co_await corio::yield{};
    e.set();
}

corio::task<void> wait_for_all(corio::event& all_done) { (void)co_await all_done.wait(); }

corio::task<void> waiter_then_signal(corio::event& e, int id, wait_log& log, std::stop_token token,
                                     corio::event& done, std::size_t expected) {
    co_await waiter(e, id, log, std::move(token));
    if (log.resumed.size() == expected) {
        done.set();
    }
}

TEST_CASE("a wait whose stop token fires resumes with operation_canceled; the others are unaffected") {
    corio::runtime rt;
    corio::event e;
    corio::event done;
    wait_log log;
    std::stop_source source;
    rt.spawn(waiter_then_signal(e, 1, log, {}, done, 3));
    rt.spawn(waiter_then_signal(e, 2, log, source.get_token(), done, 3));
    rt.spawn(waiter_then_signal(e, 3, log, {}, done, 3));
    rt.spawn(stop_one_then_set(source, e));
    rt.block_on(wait_for_all(done));
    REQUIRE(log.resumed.size() == 3);
    CHECK(log.resumed[0].first == 2);
    CHECK(log.resumed[0].second == std::errc::operation_canceled);
    CHECK(log.resumed[1].first == 1);
    CHECK_FALSE(log.resumed[1].second);
    CHECK(log.resumed[2].first == 3);
    CHECK_FALSE(log.resumed[2].second);
}

corio::task<std::pair<std::error_code, bool>> wait_with_stopped_token(corio::event& e,
                                                                      bool& other_ran) {
    std::stop_source source;
    source.request_stop();
    corio::spawn(set_flag(other_ran));
    auto r = co_await e.wait(source.get_token());
    co_return std::pair{r.error(), other_ran};
}

TEST_CASE("a wait with an already stopped token completes at once with operation_canceled") {
    corio::runtime rt;
    corio::event e;
    bool other_ran = false;
    const auto [error, ran_first] = rt.block_on(wait_with_stopped_token(e, other_ran));
    CHECK(error == std::errc::operation_canceled);
    CHECK_FALSE(ran_first);
}

corio::task<void> destroy_event(std::unique_ptr<corio::event>& e) {
    e.reset();
    co_return;
}

corio::task<std::error_code> wait_until_destroyed(std::unique_ptr<corio::event>& e) {
    corio::spawn(destroy_event(e));
    auto r = co_await e->wait();
    co_return r.error();
}

TEST_CASE("destroying an event resumes its waiters with errc::closed") {
    corio::runtime rt;
    auto e = std::make_unique<corio::event>();
    CHECK(rt.block_on(wait_until_destroyed(e)) == corio::errc::closed);
    CHECK_FALSE(e);
}

corio::task<std::thread::id> wait_then_signal(corio::event& e, std::latch& parked) {
    corio::spawn([](std::latch& l) -> corio::task<void> {
        l.count_down();  // runs once the wait below is parked
        co_return;
    }(parked));
    auto r = co_await e.wait();
    REQUIRE(r);
    co_return std::this_thread::get_id();
}

TEST_CASE("set() from another thread resumes the waiter on its own loop") {
    corio::runtime rt;
    corio::event e;
    std::latch parked(1);
    std::thread setter([&] {
        parked.wait();
        e.set();
    });
    CHECK(rt.block_on(wait_then_signal(e, parked)) == std::this_thread::get_id());
    setter.join();
}

// Waits on `go`, then records which thread it resumed on.
corio::task<void> wait_on_loop(corio::event& go, std::latch& parked, std::thread::id& resumed_on) {
    corio::spawn([](std::latch& l) -> corio::task<void> {
        l.count_down();  // runs once the wait below is parked
        co_return;
    }(parked));
    auto r = co_await go.wait();
    if (r) {
        resumed_on = std::this_thread::get_id();
    }
}

TEST_CASE("one set() resumes waiters on two loops, each on its own thread") {
    corio::event go;
    std::latch parked(2);
    std::thread::id first;
    std::thread::id second;
    std::thread::id second_loop;
    std::thread setter([&] {
        parked.wait();
        go.set();
    });
    {
        corio::runtime rt;  // before the loop_thread: see loop_thread.hpp
        corio_test::loop_thread other(wait_on_loop(go, parked, second));
        second_loop = other.id();
        rt.block_on(wait_on_loop(go, parked, first));
    }
    setter.join();
    CHECK(first == std::this_thread::get_id());
    CHECK(second == second_loop);
}

corio::task<void> wait_with_stop(corio::event& e, std::stop_token t, std::error_code& out) {
    out = (co_await e.wait(std::move(t))).error();
}

TEST_CASE("a wait cancelled from another thread resumes with operation_canceled") {
    corio::runtime rt;
    corio::event e;
    std::stop_source stop;
    std::error_code out;
    std::thread stopper([&] { stop.request_stop(); });
    rt.block_on(wait_with_stop(e, stop.get_token(), out));
    stopper.join();
    CHECK(out == std::errc::operation_canceled);
}

}  // namespace
