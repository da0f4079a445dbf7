// SPDX-License-Identifier: MIT
// The non-template parts of copy and copy_bidirectional: their shared state and the idle watch.
#include <corio/copy.hpp>

#include <corio/stop_timer.hpp>
#include <corio/timer.hpp>

namespace corio::detail {

copy_state::copy_state(const copy_options& options, int directions)
    : totals(options.progress ? *options.progress : own),
      tracks_activity(options.idle_timeout > clock_type::duration::zero()),
      running(directions) {
    totals = {};
    if (tracks_activity) {
        last_activity = loop_time();
    }
}

void copy_state::fail(std::error_code e) noexcept {
    if (!error) {
        error = e;
    }
    stop.request_stop();
}

void copy_state::finished() noexcept {
    if (--running == 0) {
        stop.request_stop();  // only the idle watch is left to end
    }
}

void copy_state::touch_now() noexcept { last_activity = loop_time(); }

// Sleeps until the idle deadline of the last activity it saw; one timer per idle period rather
// than a re-armed timer per chunk. Activity meanwhile moves the deadline on.
task<> watch_idle(copy_state& st, clock_type::duration idle) {
    const std::stop_token stop = st.stop.get_token();
    for (;;) {
        const clock_type::time_point seen = st.last_activity;
        if (!co_await sleep_until(deadline_after(seen, idle), stop)) {
            co_return;  // the copy ended, failed or was cancelled
        }
        if (st.last_activity == seen) {
            st.fail(std::make_error_code(std::errc::timed_out));
            co_return;
        }
    }
}

}  // namespace corio::detail
