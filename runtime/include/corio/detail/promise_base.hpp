// SPDX-License-Identifier: MIT
// What every corio task promise carries: continuation, exception, ambient stop token.
#pragma once

#include <corio/detail/frame_allocator.hpp>

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
    void set_detached(scheduler* owner) noexcept { detached_owner_ = owner; }

    /// Set by task's awaiter around the first resume: `running` while it runs the task inline,
    /// `finished` if the task ended meanwhile (then the awaiter continues without suspending).
    enum class inline_start : unsigned char { none, running, finished };
    inline_start inline_start_ = inline_start::none;

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

    // Intrusive links of the scheduler's list of live spawned tasks.
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
    scheduler* detached_owner_ = nullptr;
    promise_base* root_ = nullptr;
    std::source_location spawned_at_;
};

/// Gives a detached (spawned) task's frame back to its scheduler; defined in scheduler.cpp.
std::coroutine_handle<> finish_detached(scheduler& owner, promise_base& p,
                                        std::coroutine_handle<> self) noexcept;

inline std::coroutine_handle<> promise_base::on_final_suspend(
    std::coroutine_handle<> self) noexcept {
    if (detached_owner_) {
        return finish_detached(*detached_owner_, *this, self);
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
