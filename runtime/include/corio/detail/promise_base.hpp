// SPDX-License-Identifier: MIT
// What every corio task promise carries: continuation, exception, ambient stop token, its loop.
#pragma once

#include <corio/detail/frame_allocator.hpp>
#include <corio/detail/io_loop.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <source_location>
#include <stop_token>
#include <type_traits>

namespace corio::detail {

class scheduler;
class sync_waiter;
struct waiter;
struct ambient_watch;

/// Unregisters and frees a frame's ambient_watch (waiter.cpp); loop thread.
void drop_ambient_watch(ambient_watch* w) noexcept;

/// A stop token made on first use: the children of when_all and when_any get one, so that
/// children which never look at their token (most that end without waiting) cost no
/// std::stop_source. Loop thread only.
struct lazy_stop_token {
    /// Returns the token, making it on the first call; the pointer stays valid for as long
    /// as the lazy_stop_token does.
    const std::stop_token* (*get)(lazy_stop_token&) noexcept;
};

/// State shared by task<T> promises of every T.
class promise_base {
public:
    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) noexcept {
            return h.promise().on_final_suspend(h);
        }
        void await_resume() const noexcept {}
    };

    promise_base() noexcept = default;
    promise_base(const promise_base&) = delete;
    promise_base& operator=(const promise_base&) = delete;
    ~promise_base() {
        if (ambient_watch_) {
            drop_ambient_watch(ambient_watch_);
        }
    }

    std::suspend_always initial_suspend() const noexcept { return {}; }
    final_awaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { exception_ = std::current_exception(); }

    static void* operator new(std::size_t n) { return frame_allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { frame_deallocate(p, n); }

    /// The token every waiting operation inside this task observes besides its own; nullptr
    /// when nobody can cancel the task. Inherited from the awaiting task unless set first.
    const std::stop_token* ambient_stop() const noexcept {
        if (stop_ & lazy_bit) [[unlikely]] {
            auto* lazy = reinterpret_cast<lazy_stop_token*>(stop_ & ~lazy_bit);
            return lazy->get(*lazy);
        }
        return reinterpret_cast<const std::stop_token*>(stop_);
    }
    void set_ambient_stop(const std::stop_token* t) noexcept {
        stop_ = reinterpret_cast<std::uintptr_t>(t);
    }
    /// As set_ambient_stop, with a token made only once something asks for it.
    void set_ambient_stop(lazy_stop_token* t) noexcept {
        stop_ = reinterpret_cast<std::uintptr_t>(t) | lazy_bit;
    }
    bool has_ambient_stop() const noexcept { return stop_ != 0; }
    /// Takes `parent`'s ambient token as it is: a lazy one stays unmade.
    void inherit_ambient_stop(const promise_base& parent) noexcept { stop_ = parent.stop_; }

    /// Where control goes when this task finishes: its awaiter, or (for spawned tasks) the
    /// scheduler, which destroys the frame and reports an escaped exception.
    void set_continuation(std::coroutine_handle<> c) noexcept { continuation_ = c; }
    std::coroutine_handle<> continuation() const noexcept { return continuation_; }
    /// Hands the frame to `owner`'s scheduler (spawn): it runs there, and is destroyed there.
    void set_detached(io_loop* owner) noexcept {
        loop_ = owner;
        detached_ = true;
    }

    /// The loop this task runs on, where its waits park: set on a root by spawn, spawn_on and
    /// block_on, and passed to each awaited child by task's awaiter. nullptr for a coroutine
    /// started otherwise (its waits use the thread's loop).
    io_loop* loop() const noexcept { return loop_; }
    void set_loop(io_loop* l) noexcept { loop_ = l; }

    /// Set by task's awaiter around the first resume: `running` while it runs the task inline,
    /// `finished` if the task ended meanwhile (then the awaiter continues without suspending).
    enum class inline_start : unsigned char { none, running, finished };
    inline_start inline_start_ = inline_start::none;

private:
    bool detached_ = false;  // spawned: at the end the frame goes back to loop_'s scheduler

public:
    void rethrow_if_exception() const {
        if (exception_) {
            std::rethrow_exception(exception_);
        }
    }

    /// For task dumps and the stall detector: the spawned (or block_on) task this one runs
    /// inside, set by spawn/block_on on the root itself and by task's awaiter on each child;
    /// nullptr for a coroutine started some other way.
    promise_base* root() const noexcept { return root_; }
    void set_root(promise_base* r) noexcept { root_ = r; }
    /// Makes this the root of its chain of awaited tasks, spawned from `loc`.
    void make_root(std::source_location loc) noexcept {
        root_ = this;
        spawned_at_ = loc;
    }
    /// Meaningful on a root: where spawn()/block_on() was called.
    std::source_location spawned_at() const noexcept { return spawned_at_; }
    /// On a root: the waiter its innermost awaited child last parked on (waiter::note_park),
    /// until that waiter is released. Loop thread only.
    waiter* waiting_on_ = nullptr;
    /// The same for a wait on a synchronisation primitive (mutex, channel...): its node.
    const sync_waiter* sync_waiting_on_ = nullptr;
    /// The stop callback this frame's waits share on its ambient token (waiter::watch_stop),
    /// registered by the first wait that can be cancelled and kept until the frame goes, so a
    /// later wait costs two plain stores instead of a callback of its own. Loop thread only.
    ambient_watch* ambient_watch_ = nullptr;

    // Intrusive links of the scheduler's list of live spawned tasks (or of the task_group
    // children it tracks for the task dump).
    promise_base* detached_prev_ = nullptr;
    promise_base* detached_next_ = nullptr;
    std::exception_ptr exception_;

protected:
    std::coroutine_handle<> on_final_suspend(std::coroutine_handle<> self) noexcept;

private:
    std::coroutine_handle<> continuation_;
    // The ambient token: a const std::stop_token*, or a lazy_stop_token* with lazy_bit set
    // (both are at least 2-aligned).
    static constexpr std::uintptr_t lazy_bit = 1;
    std::uintptr_t stop_ = 0;
    io_loop* loop_ = nullptr;
    promise_base* root_ = nullptr;
    std::source_location spawned_at_;
};

/// Gives a detached (spawned) task's frame back to its scheduler; defined in scheduler.cpp.
std::coroutine_handle<> finish_detached(scheduler& owner, promise_base& p,
                                        std::coroutine_handle<> self) noexcept;

inline std::coroutine_handle<> promise_base::on_final_suspend(
    std::coroutine_handle<> self) noexcept {
    if (ambient_watch_) {  // it waits no more: a frame kept after its end holds no callback
        drop_ambient_watch(ambient_watch_);
        ambient_watch_ = nullptr;
    }
    if (detached_) {
        return finish_detached(*loop_->sched, *this, self);
    }
    if (inline_start_ == inline_start::running) {
        inline_start_ = inline_start::finished;  // the awaiter is below us on the stack
        return std::noop_coroutine();
    }
    return continuation_ ? continuation_ : std::noop_coroutine();
}

/// The ambient stop token of the coroutine behind `h`, if it is a corio task.
template <class Promise>
const std::stop_token* ambient_stop_of(std::coroutine_handle<Promise> h) noexcept {
    if constexpr (std::is_base_of_v<promise_base, Promise>) {
        return h.promise().ambient_stop();
    } else {
        return nullptr;
    }
}

/// Gives `child` the ambient stop token of the coroutine behind `parent` unless it has one.
template <class Promise>
void inherit_ambient_stop(promise_base& child, std::coroutine_handle<Promise> parent) noexcept {
    if constexpr (std::is_base_of_v<promise_base, Promise>) {
        if (!child.has_ambient_stop()) {
            child.inherit_ambient_stop(parent.promise());
        }
    }
}

/// The promise of the coroutine behind `h`, if it is a corio task.
template <class Promise>
promise_base* promise_of(std::coroutine_handle<Promise> h) noexcept {
    if constexpr (std::is_base_of_v<promise_base, Promise>) {
        return &h.promise();
    } else {
        return nullptr;
    }
}

/// The loop (see promise_base::loop) of the coroutine behind `h`, if it is a corio task that has
/// one.
template <class Promise>
io_loop* loop_of_task(std::coroutine_handle<Promise> h) noexcept {
    if constexpr (std::is_base_of_v<promise_base, Promise>) {
        return h.promise().loop();
    } else {
        return nullptr;
    }
}

/// Throw usage_error: `who` (e.g. "corio::sleep") was called where no runtime runs, or in a task
/// running on a thread that is not its loop's. Out of line: cold paths of every wait.
[[noreturn]] void throw_no_runtime(const char* who);
[[noreturn]] void throw_foreign_thread(const char* who);

/// The loop a wait of the coroutine behind `h` parks on: its task's (promise_base::loop), or
/// for a coroutine without one, the loop running this thread. Throws usage_error outside a
/// runtime, and when the task's loop is not the one running this thread: the task was resumed
/// by another thread (a callback resuming it directly, another loop), where parking would
/// race with its own loop. The check is one thread-pointer-relative load and a compare.
template <class Promise>
io_loop& loop_of(std::coroutine_handle<Promise> h, const char* who) {
    io_loop* here = this_thread_loop;
    if (io_loop* mine = loop_of_task(h)) {
        if (mine != here) [[unlikely]] {
            throw_foreign_thread(who);
        }
        return *mine;
    }
    if (!here) [[unlikely]] {
        throw_no_runtime(who);
    }
    return *here;
}

/// The root task (see promise_base::root) of the coroutine behind `h`, if it is a corio task.
template <class Promise>
promise_base* root_of(std::coroutine_handle<Promise> h) noexcept {
    if constexpr (std::is_base_of_v<promise_base, Promise>) {
        return h.promise().root();
    } else {
        return nullptr;
    }
}

}  // namespace corio::detail
