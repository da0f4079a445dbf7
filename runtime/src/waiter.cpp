// SPDX-License-Identifier: MIT
// Stop-token plumbing of waiters.
#include <corio/detail/scheduler.hpp>
#include <corio/detail/frame_allocator.hpp>
#include <corio/detail/waiter.hpp>

#include <new>

namespace corio::detail {

void cancel_on_stop::operator()() const noexcept { w->sched->request_cancel(*w); }

bool waiter::watch_stop(const std::stop_token& explicit_token, const std::stop_token* ambient) {
    if (explicit_token.stop_requested() || (ambient && ambient->stop_requested())) {
        if (detach) {
            detach(*this);
        }
        st = state::idle;
        reason = std::make_error_code(std::errc::operation_canceled);
        return false;
    }
    const bool use_ambient = ambient && ambient->stop_possible();
    if (!explicit_token.stop_possible() && !use_ambient) {
        return true;
    }
    links = new (frame_allocate(sizeof(stop_links))) stop_links;
    if (explicit_token.stop_possible()) {
        links->explicit_token.emplace(explicit_token, cancel_on_stop{this});
    }
    if (use_ambient) {
        links->ambient_token.emplace(*ambient, cancel_on_stop{this});
    }
    return true;
}

void waiter::release() noexcept {
    if (root) {  // the task no longer waits here (a later park may already have replaced it)
        if (root->waiting_on_ == this) {
            root->waiting_on_ = nullptr;
        }
        root = nullptr;
    }
    // Destroying a stop_callback waits for a callback running on another thread, so after
    // these two lines no new remote cancellation can name this waiter.
    if (links) {
        links->~stop_links();
        frame_deallocate(links, sizeof(stop_links));
        links = nullptr;
    }
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
