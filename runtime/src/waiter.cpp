// SPDX-License-Identifier: MIT
// Stop-token plumbing of waiters.
#include <corio/detail/scheduler.hpp>
#include <corio/detail/frame_allocator.hpp>
#include <corio/detail/waiter.hpp>

#include <new>

namespace corio::detail {

void cancel_on_stop::operator()() const noexcept { w->sched->request_cancel(*w); }

void cancel_parked::operator()() const noexcept { w->sched->request_cancel(*w); }

ambient_watch::~ambient_watch() {
    callback.reset();  // after this no new remote cancellation can name this watch
    if (remote_cancel_pending.load(std::memory_order_relaxed)) {
        sched->forget_remote_cancel(*this);
    }
}

void drop_ambient_watch(ambient_watch* w) noexcept {
    w->~ambient_watch();
    frame_deallocate(w, sizeof(ambient_watch));
}

bool waiter::watch_stoppable(const std::stop_token& explicit_token,
                             const std::stop_token* ambient, promise_base* frame) {
    if (explicit_token.stop_requested() || (ambient && ambient->stop_requested())) {
        if (detach) {
            detach(*this);
        }
        st = state::idle;
        reason = std::make_error_code(std::errc::operation_canceled);
        return false;
    }
    bool use_ambient = ambient && ambient->stop_possible();
    // Only the frame's own ambient token, which is set before the frame starts and never
    // changes: so the watch is reused without reading it (it is cold, the frame is not). Its
    // waits all park on the frame's loop (loop_of), the watch's scheduler.
    if (use_ambient && frame && ambient == frame->ambient_stop()) {
        if (ambient_watch* shared = frame->ambient_watch_) {
            shared->parked = this;  // a stop from now on cancels this wait
            shared_watch = shared;
        } else {
            // The frame's first cancellable wait: the callback names this wait before it can run.
            void* at = frame_allocate(sizeof(ambient_watch));
            shared_watch = new (at) ambient_watch(*ambient, sched, this);
            frame->ambient_watch_ = shared_watch;
        }
        use_ambient = false;
    }
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

void waiter::release_sources() noexcept {
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
