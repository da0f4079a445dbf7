// SPDX-License-Identifier: MIT
// waiter: one suspended coroutine and the bookkeeping that gives it exactly one resumer.
#pragma once

#include <corio/detail/promise_base.hpp>

#include <atomic>
#include <coroutine>
#include <optional>
#include <stop_token>
#include <system_error>

namespace corio::detail {

class scheduler;
struct waiter;
struct ambient_watch;

/// Runs when a stop token fires: cancels the waiter on its scheduler's thread.
struct cancel_on_stop {
    waiter* w;
    void operator()() const noexcept;
};

/// Runs when a frame's ambient token fires: cancels the wait parked under it, if any, on the
/// scheduler's thread.
struct cancel_parked {
    ambient_watch* w;
    void operator()() const noexcept;
};

/// One stop callback on a frame's ambient token, shared by the frame's waits one after another
/// (a frame is suspended at one wait at a time): a connection's loop of receives registers it
/// once, not once per message. A stop cancels the wait `parked` names when it is handled.
struct ambient_watch {
    ambient_watch(const std::stop_token& t, scheduler* s, waiter* first)
        : token(t), sched(s), parked(first) {
        callback.emplace(t, cancel_parked{this});  // may run at once: `parked` is set
    }
    /// Unregisters (waiting for a callback running on another thread), then takes back a
    /// cancellation it queued for the loop. Loop thread.
    ~ambient_watch();
    ambient_watch(const ambient_watch&) = delete;
    ambient_watch& operator=(const ambient_watch&) = delete;

    std::stop_token token;  // the frame's ambient token it watches
    scheduler* sched;
    waiter* parked;  // the frame's wait parked now, or nullptr; loop thread only
    std::atomic<bool> remote_cancel_pending{false};  // queued by a stop on another thread
    std::optional<std::stop_callback<cancel_parked>> callback;
};

/// A parked coroutine. Whichever source resumes it first (readiness, timer, cancellation,
/// close) calls scheduler::wake_waiter; the others then find it no longer parked.
struct waiter {
    enum class state : unsigned char { idle, parked, scheduled };

    std::coroutine_handle<> handle;
    scheduler* sched = nullptr;
    /// Why it was resumed without completing (canceled, closed); empty when it completed.
    std::error_code reason;
    /// Unlinks it from what it is parked on (io_handle slot, timer queue). Owner thread only.
    void (*detach)(waiter&) noexcept = nullptr;
    /// Set by sources that cannot let go at once (a completion the kernel still owns): asked
    /// to finish early, the source resumes the waiter itself once it is safe to.
    void (*interrupt)(waiter&) noexcept = nullptr;
    state st = state::idle;
    std::atomic<bool> remote_cancel_pending{false};  // queued by a stop on another thread
    /// For runtime::dump_tasks(): appended to `what` when >= 0 (a descriptor).
    int what_arg = -1;
    /// For runtime::dump_tasks(): what this waits on ("event", "recv on fd"), static text;
    /// nullptr prints "waiting (unknown)". Set by note_park().
    const char* what = nullptr;
    /// The spawned (or block_on) task this waiter's coroutine runs in, or nullptr.
    promise_base* root = nullptr;
    /// The awaiting frame's ambient_watch while this waits under it (watch_stop with a frame).
    ambient_watch* shared_watch = nullptr;
    /// The stop callbacks, allocated (from the recycling frame allocator) only when a token
    /// can actually fire: 112 bytes that an idle connection's frame would otherwise carry.
    struct stop_links {
        std::optional<std::stop_callback<cancel_on_stop>> explicit_token;
        std::optional<std::stop_callback<cancel_on_stop>> ambient_token;
    };
    stop_links* links = nullptr;

    waiter() = default;
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;
    ~waiter() { release(); }

    /// Called once parked: installs the stop callbacks. If a token is already stopped it
    /// unparks instead (detach), sets reason to operation_canceled and returns false, so the
    /// caller completes without suspending. Inline when neither token can stop (a task nobody
    /// cancels): two loads, no call. With the awaiting coroutine's promise as `frame`, the
    /// ambient token is watched by the frame's ambient_watch, registered once per frame.
    bool watch_stop(const std::stop_token& explicit_token, const std::stop_token* ambient,
                    promise_base* frame = nullptr) {
        if (!explicit_token.stop_possible() && !(ambient && ambient->stop_possible())) {
            return true;
        }
        return watch_stoppable(explicit_token, ambient, frame);
    }
    /// Detaches from every source and from the ready queue; called before destruction. Inline
    /// for a waiter that is done (idle, no stop callbacks): every completed operation's
    /// destructor comes here, so that costs a few loads and no call.
    void release() noexcept {
        if (root) {  // the task no longer waits here (a later park may already have replaced it)
            if (root->waiting_on_ == this) {
                root->waiting_on_ = nullptr;
            }
            root = nullptr;
        }
        if (shared_watch) {
            if (shared_watch->parked == this) {
                shared_watch->parked = nullptr;
            }
            shared_watch = nullptr;
        }
        if (links || st != state::idle || remote_cancel_pending.load(std::memory_order_relaxed)) {
            release_sources();
        }
    }

    /// The task-dump hook: one line at a primitive's park point, next to watch_stop:
    ///     w.note_park(detail::root_of(h), "mutex");          // or ("recv on fd", fd)
    /// Records in the task's root promise that it now waits on this waiter (what dump_tasks()
    /// prints, and which task the stall detector names once it is resumed); release() and the
    /// destructor forget it again. `what` must be static text. Two plain stores; a primitive
    /// that never calls it still works, its tasks print "waiting (unknown)".
    void note_park(promise_base* task_root, const char* text, int arg = -1) noexcept;

private:
    bool watch_stoppable(const std::stop_token& explicit_token, const std::stop_token* ambient,
                         promise_base* frame);
    void release_sources() noexcept;
};

inline void waiter::note_park(promise_base* task_root, const char* text, int arg) noexcept {
    what = text;
    what_arg = arg;
    root = task_root;
    if (task_root) {
        task_root->waiting_on_ = this;
    }
}

}  // namespace corio::detail
