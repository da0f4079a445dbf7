// SPDX-License-Identifier: MIT
// advance_in_steps: drives a manual_clock from inside the runtime, one step per loop turn.
#pragma once

#include <corio/clock.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include <chrono>

namespace corio_test {

/// Moves `clock` forward by `step`, `steps` times, one step per turn of the loop. Between steps
/// it lets every timer due at the new time fire and every task they woke run, so such a task
/// reads clock.now() equal to the step that woke it. The first step comes a turn after the
/// start, so tasks queued alongside this one start at the clock's first time.
inline corio::task<void> advance_in_steps(corio::manual_clock& clock,
                                          corio::clock_type::duration step, int steps) {
    (void)co_await corio::sleep_for(corio::clock_type::duration::zero());
    for (int i = 0; i < steps; ++i) {
        clock.advance(step);
        // Due timers fire in the turn's expiry, this one among them, in no order a test should
        // rely on; yielding puts this task behind every task they woke.
        (void)co_await corio::sleep_for(corio::clock_type::duration::zero());
        co_await corio::yield{};
    }
}

}  // namespace corio_test
