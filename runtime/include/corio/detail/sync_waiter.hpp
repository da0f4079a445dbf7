// SPDX-License-Identifier: MIT
// sync_waiter: a task parked on a synchronisation primitive, with exactly one resumer.
#pragma once

#include <corio/detail/promise_base.hpp>
#include <corio/detail/sync_lock.hpp>
#include <corio/error.hpp>

#include <coroutine>
#include <optional>
#include <stop_token>

namespace corio::detail {

class scheduler;
class sync_waiter;

/// waiting: on a wait list. granted: the primitive gave the waiter what it waited for (a lock,
/// a permit, an item) and queued its resume. cancelled / closed: queued with that error.
enum class sync_state : unsigned char { idle, waiting, granted, cancelled, closed };

/// A primitive's FIFO of parked waiters. Guarded by the primitive's sync_lock.
struct sync_list {
    sync_waiter* head = nullptr;
    sync_waiter* tail = nullptr;

    bool empty() const noexcept { return head == nullptr; }
    void push_back(sync_waiter& w) noexcept;
    void unlink(sync_waiter& w) noexcept;
    /// Unlinks and returns the first waiter, or nullptr. Inline: every channel operation and
    /// every contended unlock asks, and mostly finds no one.
    sync_waiter* pop_front() noexcept {
        sync_waiter* w = head;
        if (w) {
            unlink(*w);
        }
        return w;
    }
    /// Resumes every waiter with `s`, first come first.
    void wake_all(sync_state s) noexcept;
    /// The primitive is being destroyed: resumes every waiter with `closed`, and none of them
    /// touches the primitive's lock again.
    void close_all() noexcept;
};

/// One parked coroutine (lives in the awaiting frame: no allocation). Its state moves out of
/// `waiting` only under the primitive's lock, and whoever moves it resumes it, on its own loop.
class sync_waiter {
public:
    using state = sync_state;

    sync_waiter() = default;
    sync_waiter(const sync_waiter&) = delete;
    sync_waiter& operator=(const sync_waiter&) = delete;
    /// A frame destroyed while parked (runtime teardown, block_on stopped): leaves the list, or,
    /// if granted and not yet resumed, hands the grant on (`abandon`) and unqueues its resume.
    /// Inline check first: a wait that completed at once pays one test here (the stop
    /// callbacks exist only while parked_).
    ~sync_waiter() {
        if (parked_) {
            leave();
        }
    }

    /// Owner thread, before taking the lock: binds to the calling loop. Throws usage_error
    /// naming `what` outside a runtime.
    template <class Promise>
    void bind(std::coroutine_handle<Promise> h, const char* what) {
        bind_loop(h, loop_of(h, what).sched, ambient_stop_of(h), root_of(h), what);
    }
    /// For runtime::dump_tasks(): what the task waits on ("mutex::lock"). While parked.
    const char* what() const noexcept;
    /// True when `token` or the task's ambient token is stopped already.
    bool stop_requested(const std::stop_token& token) const noexcept;
    /// Lock held: appends to `list` as `waiting`.
    void enqueue(sync_list& list, sync_lock& lock) noexcept;
    /// After the lock is released: cancels the wait when `token` or the ambient token stops.
    void watch(const std::stop_token& token);
    /// Owner thread, on resume: drops the stop callbacks; returns how the wait ended.
    state finish() noexcept {
        if (parked_) {
            // Waits for a callback running on another thread; it finds the node no longer
            // waiting.
            explicit_stop_.reset();
            ambient_stop_.reset();
            forget_root();
            parked_ = false;
        }
        return st_;
    }
    /// The state without the lock: for the owner once resumed, or for waits that never parked.
    state outcome() const noexcept { return st_; }
    /// For a wait completed or refused without parking (no lock needed: nobody else sees it).
    void set_unparked(state s) noexcept { st_ = s; }

    /// Lock held, already unlinked: records `s` and resumes the owner on its loop (schedule on
    /// the loop's own thread, else schedule_remote, which wakes that loop).
    void wake_locked(state s) noexcept;
    /// Lock held: passes on a grant its owner will never take (the frame is being destroyed):
    /// called as abandon(primitive, *this).
    void (*abandon)(void* primitive, sync_waiter& w) noexcept = nullptr;
    void* primitive = nullptr;

private:
    friend struct sync_list;
    struct on_stop {
        sync_waiter* w;
        void operator()() const noexcept;
    };
    void bind_loop(std::coroutine_handle<> h, scheduler* loop, const std::stop_token* ambient,
                   promise_base* root, const char* what) noexcept;
    void forget_root() noexcept {
        if (root_ && root_->sync_waiting_on_ == this) {
            root_->sync_waiting_on_ = nullptr;
        }
    }
    void cancel() noexcept;
    void leave() noexcept;

    // Left uninitialised until used: a wait that completes at once (the fast path, measured in
    // bench/micro/sync_bench.cpp) writes only st_ and parked_.
    sync_waiter* prev_;  // links of the list it waits on (under the lock); set by push_back
    sync_waiter* next_;
    sync_list* list_;    // set by enqueue, with lock_
    sync_lock* lock_;    // nullptr once the primitive is destroyed
    scheduler* sched_;   // set by bind, with handle_ and ambient_
    std::coroutine_handle<> handle_;
    const std::stop_token* ambient_;  // valid while bound: owned by an enclosing frame
    promise_base* root_;              // set by bind: the task this waits in (task dumps)
    const char* what_;                // set by bind: the operation's name
    state st_ = state::idle;  // out of `waiting` only under *lock_
    bool parked_ = false;     // owner thread only: enqueued and not yet finished; the stop
                              // callbacks below are engaged only while it is true
    bool remote_;             // its resume went to schedule_remote (set with st_)
    std::optional<std::stop_callback<on_stop>> explicit_stop_;
    std::optional<std::stop_callback<on_stop>> ambient_stop_;
};

inline void sync_list::push_back(sync_waiter& w) noexcept {
    w.prev_ = tail;
    w.next_ = nullptr;
    (tail ? tail->next_ : head) = &w;
    tail = &w;
}

inline void sync_list::unlink(sync_waiter& w) noexcept {
    (w.prev_ ? w.prev_->next_ : head) = w.next_;
    (w.next_ ? w.next_->prev_ : tail) = w.prev_;
    w.prev_ = w.next_ = nullptr;
}

}  // namespace corio::detail
