// SPDX-License-Identifier: MIT
// Parking, waking and cancelling tasks on synchronisation primitives.
#include <corio/detail/sync_waiter.hpp>

#include <corio/detail/scheduler.hpp>

#include <mutex>
#include <string>
#include <string_view>

namespace corio::detail {

void sync_list::wake_all(sync_state s) noexcept {
    while (sync_waiter* w = pop_front()) {
        w->wake_locked(s);
    }
}

void sync_list::close_all() noexcept {
    while (sync_waiter* w = pop_front()) {
        w->lock_ = nullptr;
        w->wake_locked(sync_state::closed);
    }
}

void sync_waiter::bind_loop(std::coroutine_handle<> h, scheduler* loop,
                            const std::stop_token* ambient, promise_base* root,
                            const char* what) noexcept {
    sched_ = loop;  // the task's own loop (loop_of: a usage_error off its thread or runtime)
    handle_ = h;
    ambient_ = ambient;
    root_ = root;
    what_ = what;
}

const char* sync_waiter::what() const noexcept {
    // "corio::mutex::lock" reads as "mutex::lock" among the other waits of a dump.
    constexpr std::string_view prefix = "corio::";
    const std::string_view name(what_);
    return name.starts_with(prefix) ? what_ + prefix.size() : what_;
}

bool sync_waiter::stop_requested(const std::stop_token& token) const noexcept {
    return token.stop_requested() || (ambient_ && ambient_->stop_requested());
}

void sync_waiter::enqueue(sync_list& list, sync_lock& lock) noexcept {
    list.push_back(*this);
    list_ = &list;
    lock_ = &lock;
    st_ = state::waiting;
    parked_ = true;
    if (root_) {
        root_->sync_waiting_on_ = this;  // owner thread: the task's own frame
    }
}

void sync_waiter::watch(const std::stop_token& token) {
    // A token stopped meanwhile runs the callback right here; it takes the lock like any other.
    if (token.stop_possible()) {
        explicit_stop_.emplace(token, on_stop{this});
    }
    if (ambient_ && ambient_->stop_possible()) {
        ambient_stop_.emplace(*ambient_, on_stop{this});
    }
}

void sync_waiter::wake_locked(state s) noexcept {
    st_ = s;
    if (scheduler::current() == sched_) {
        remote_ = false;
        sched_->schedule(handle_, root_);
    } else {
        // Under the primitive's lock, so the owner's destructor (which takes the lock first)
        // knows this call is over and can unqueue the handle.
        remote_ = true;
        sched_->schedule_remote(handle_, root_);
    }
}

void sync_waiter::on_stop::operator()() const noexcept { w->cancel(); }

void sync_waiter::cancel() noexcept {
    if (!lock_) {
        return;  // resumed with closed by the primitive's destructor; nothing left to cancel
    }
    std::lock_guard guard(*lock_);
    if (st_ == state::waiting) {
        list_->unlink(*this);
        wake_locked(state::cancelled);
    }
}

void sync_waiter::leave() noexcept {
    explicit_stop_.reset();  // after this no callback can reach the node
    ambient_stop_.reset();
    if (!parked_) {
        return;
    }
    forget_root();
    if (lock_) {
        std::lock_guard guard(*lock_);
        if (st_ == state::waiting) {
            list_->unlink(*this);
            st_ = state::idle;
            return;
        }
        if (st_ == state::granted && abandon) {
            abandon(primitive, *this);
        }
    }
    // Woken but never resumed: its handle is still queued on its loop.
    if (remote_) {
        sched_->unschedule_remote(handle_);
    } else {
        sched_->unschedule(handle_);
    }
}

}  // namespace corio::detail
