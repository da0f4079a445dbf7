// SPDX-License-Identifier: MIT
// Stop-token plumbing of waiters.
#include <corio/detail/scheduler.hpp>
#include <corio/detail/waiter.hpp>

namespace corio::detail {

void cancel_on_stop::operator()() const noexcept { w->sched->request_cancel(*w); }

bool waiter::watch_stop(const std::stop_token& explicit_token, const std::stop_token* ambient) {
    if (explicit_token.stop_requested() || (ambient && ambient->stop_requested())) {
        return false;
    }
    if (explicit_token.stop_possible()) {
        on_stop.emplace(explicit_token, cancel_on_stop{this});
    }
    if (ambient && ambient->stop_possible()) {
        on_ambient_stop.emplace(*ambient, cancel_on_stop{this});
    }
    return true;
}

void waiter::release() noexcept {
    // Destroying a stop_callback waits for a callback running on another thread, so after
    // these two lines no new remote cancellation can name this waiter.
    on_stop.reset();
    on_ambient_stop.reset();
    if (remote_cancel_pending.load(std::memory_order_relaxed) && sched) {
        sched->forget_remote_cancel(*this);
    }
    if (st == state::parked && detach) {
        detach(*this);
    } else if (st == state::scheduled && sched) {
        sched->unschedule(handle);
    }
    st = state::idle;
}

}  // namespace corio::detail
