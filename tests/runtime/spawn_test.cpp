// SPDX-License-Identifier: MIT
// Tests for corio::spawn with a stop token: the token reaches every wait inside the task.
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include <corio/event.hpp>
#include <corio/result.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include <chrono>
#include <stop_token>
#include <system_error>

namespace {

using namespace std::chrono_literals;

// Two levels deep, so the token has to pass through an awaited child to reach the sleep.
corio::task<corio::result<void>> sleep_long() { co_return co_await corio::sleep_for(1h); }

corio::task<void> record_sleep(corio::result<void>& out, corio::event& finished) {
    out = co_await sleep_long();
    finished.set();
}

corio::task<void> spawn_then_stop(corio::result<void>& out) {
    corio::event finished;
    std::stop_source source;
    corio::spawn(record_sleep(out, finished), source.get_token());
    (void)co_await corio::sleep_for(1ms);  // the child is parked in its sleep now
    source.request_stop();
    (void)co_await finished.wait();
}

corio::task<void> spawn_untouched(corio::result<void>& out, std::stop_source& source) {
    corio::event finished;
    corio::spawn(record_sleep(out, finished));
    (void)co_await corio::sleep_for(1ms);
    source.request_stop();  // a token the child was not given
    co_return;
}

TEST_CASE("spawn with a stop token: stopping it cancels a wait deep inside the task") {
    corio::runtime rt;
    corio::result<void> out;
    rt.block_on(spawn_then_stop(out));
    REQUIRE_FALSE(out.has_value());
    CHECK(out.error() == std::errc::operation_canceled);
}

TEST_CASE("spawn without a token: the spawner's cancellation does not reach the task") {
    corio::runtime rt;
    corio::result<void> out = std::make_error_code(std::errc::io_error);
    std::stop_source source;
    rt.block_on(corio::with_stop_token(source.get_token(), spawn_untouched(out, source)));
    CHECK(rt.block_on([]() -> corio::task<bool> { co_return true; }()));
    // Still asleep: nothing reached it, so it has not written its result.
    CHECK(out.error() == std::errc::io_error);
}

}  // namespace
