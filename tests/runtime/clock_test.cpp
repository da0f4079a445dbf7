// SPDX-License-Identifier: MIT
// Tests for corio/clock.hpp: manual_clock moves only forward, and wakes the runtime it drives.
#include <corio/clock.hpp>

#include <catch2/catch.hpp>

#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include <chrono>
#include <optional>
#include <thread>

namespace {

using namespace std::chrono_literals;
using corio::clock_type;

TEST_CASE("a manual clock starts where it is told and moves only by advance and set") {
    const auto start = clock_type::time_point{} + 5h;
    corio::manual_clock clock(start);
    CHECK(clock.now() == start);
    clock.advance(3ms);
    CHECK(clock.now() - start == 3ms);
    clock.set(start + 10ms);
    CHECK(clock.now() - start == 10ms);
}

TEST_CASE("a manual clock never goes back") {
    corio::manual_clock clock;
    const auto start = clock.now();
    clock.advance(-1ms);
    CHECK(clock.now() == start);
    clock.set(start - 1h);
    CHECK(clock.now() == start);
}

TEST_CASE("a default manual clock starts an hour after the epoch of steady_clock") {
    corio::manual_clock clock;
    CHECK(clock.now() == clock_type::time_point{} + 1h);
}

corio::task<void> start_advancer(std::optional<std::thread>& thread, corio::manual_clock& clock) {
    thread.emplace([&clock] { clock.advance(1s); });
    co_return;
}

corio::task<bool> sleep_until_advanced(std::optional<std::thread>& thread,
                                       corio::manual_clock& clock) {
    corio::spawn(start_advancer(thread, clock));  // runs once the sleep below is parked
    auto r = co_await corio::sleep_for(1s);
    co_return r.has_value();
}

TEST_CASE("advancing a manual clock from another thread wakes the runtime's due timers") {
    corio::manual_clock clock;
    corio::runtime_options options;
    options.clock = &clock;
    corio::runtime rt(std::move(options));
    std::optional<std::thread> thread;
    CHECK(rt.block_on(sleep_until_advanced(thread, clock)));
    REQUIRE(thread);
    thread->join();
    CHECK(clock.now() == clock_type::time_point{} + 1h + 1s);
}

}  // namespace
