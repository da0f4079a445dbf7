// SPDX-License-Identifier: MIT
// event: a manual-reset flag that tasks can wait on, from any loop.
#pragma once

#include <corio/detail/sync_wait.hpp>
#include <corio/detail/sync_waiter.hpp>
#include <corio/error.hpp>
#include <corio/result.hpp>

#include <atomic>
#include <mutex>
#include <stop_token>
#include <system_error>
#include <utility>

namespace corio {

/// A flag tasks wait for: set() resumes every waiter, and later waits complete at once until
/// reset(). Thread-safe: set/reset from any thread; each waiter resumes on its own loop.
class event {
public:
    event() noexcept = default;
    event(const event&) = delete;
    event& operator=(const event&) = delete;
    /// Waiters left resume with errc::closed (on their loops). Must not race a wait starting.
    ~event() {
        std::lock_guard lock(lock_);
        waiters_.close_all();
    }

    bool is_set() const noexcept { return set_.load(std::memory_order_acquire); }
    /// Sets the flag and resumes every waiting task (in the order they started waiting), each
    /// on its own loop; only schedules them, never runs one inline. Any thread.
    void set() noexcept {
        std::lock_guard lock(lock_);
        set_.store(true, std::memory_order_release);
        waiters_.wake_all(detail::sync_state::granted);
    }
    /// Clears the flag: later waits suspend until the next set(). Any thread.
    void reset() noexcept { set_.store(false, std::memory_order_relaxed); }

    /// The awaitable of wait(): success once the flag is set; operation_canceled if a stop
    /// token fires first; errc::closed if the event is destroyed first.
    class [[nodiscard]] awaitable : public detail::sync_wait<awaitable> {
    public:
        awaitable(event& e, std::stop_token token) noexcept
            : sync_wait(std::move(token)), e_(e) {}
        /// No lock when the flag is up: one acquire load.
        bool await_ready() const noexcept { return e_.is_set(); }
        result<void> await_resume() noexcept { return detail::sync_error(node_.finish()); }

    private:
        friend class detail::sync_wait<awaitable>;
        static constexpr const char* name = "corio::event::wait";
        detail::sync_lock& lock() noexcept { return e_.lock_; }
        detail::sync_list& list() noexcept { return e_.waiters_; }
        detail::sync_state try_locked() const noexcept {
            return e_.set_.load(std::memory_order_relaxed) ? detail::sync_state::granted
                                                          : detail::sync_state::idle;
        }
        event& e_;
    };

    /// Waits until the flag is set (at once if it is). Errors as on awaitable; throws
    /// usage_error outside a runtime. Any number of tasks on any loops may wait.
    awaitable wait(std::stop_token token = {}) noexcept { return {*this, std::move(token)}; }

private:
    detail::sync_lock lock_;
    std::atomic<bool> set_{false};  // written under lock_ when set, so no waiter misses it
    detail::sync_list waiters_;     // under lock_
};

}  // namespace corio
