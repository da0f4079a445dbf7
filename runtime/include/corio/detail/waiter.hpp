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

/// Runs when a stop token fires: cancels the waiter on its scheduler's thread.
struct cancel_on_stop {
    waiter* w;
    void operator()() const noexcept;
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
    /// caller completes without suspending.
    bool watch_stop(const std::stop_token& explicit_token, const std::stop_token* ambient);
    /// Detaches from every source and from the ready queue; called before destruction.
    void release() noexcept;

    /// The task-dump hook: one line at a primitive's park point, next to watch_stop:
    ///     w.note_park(detail::root_of(h), "mutex");          // or ("recv on fd", fd)
    /// Records in the task's root promise that it now waits on this waiter (what dump_tasks()
    /// prints, and which task the stall detector names once it is resumed); release() and the
    /// destructor forget it again. `what` must be static text. Two plain stores; a primitive
    /// that never calls it still works, its tasks print "waiting (unknown)".
    void note_park(promise_base* task_root, const char* text, int arg = -1) noexcept;
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
