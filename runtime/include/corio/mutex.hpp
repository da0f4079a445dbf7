// SPDX-License-Identifier: MIT
// mutex: an asynchronous lock, handed to waiting tasks first come, first served.
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

/// A mutual-exclusion lock that tasks wait for without blocking their loop; tasks on any loop
/// (thread) may share it. Fair: unlocking hands the lock to the longest waiter, never to a
/// newcomer. Must outlive its guards and waiters.
class mutex {
public:
    /// Owns a locked mutex and unlocks it when destroyed (or on unlock()). Move-only; may be
    /// moved to and destroyed on another thread.
    class guard {
    public:
        guard() noexcept = default;
        guard(guard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
        guard& operator=(guard&& o) noexcept {
            if (this != &o) {
                unlock();
                m_ = std::exchange(o.m_, nullptr);
            }
            return *this;
        }
        ~guard() { unlock(); }

        /// True while this guard holds the lock.
        bool owns_lock() const noexcept { return m_ != nullptr; }
        /// Unlocks now (the first waiter, if any, gets the lock); later calls do nothing.
        void unlock() noexcept {
            if (m_) {
                std::exchange(m_, nullptr)->unlock();
            }
        }

    private:
        friend class mutex;
        explicit guard(mutex& m) noexcept : m_(&m) {}
        mutex* m_ = nullptr;
    };

    mutex() noexcept = default;
    mutex(const mutex&) = delete;
    mutex& operator=(const mutex&) = delete;
    /// Waiters left (only possible in a single loop's teardown) resume with errc::closed.
    ~mutex() {
        std::lock_guard lock(lock_);
        waiters_.close_all();
    }

    /// Takes the lock if it is free; never waits. Errors: resource_unavailable_try_again when
    /// it is held (or tasks are waiting for it). Any thread, runtime or not.
    result<guard> try_lock() noexcept {
        if (!try_acquire()) {
            return std::errc::resource_unavailable_try_again;
        }
        return guard(*this);
    }

    /// The awaitable of lock().
    class [[nodiscard]] lock_awaitable : public detail::sync_wait<lock_awaitable> {
    public:
        lock_awaitable(mutex& m, std::stop_token token) noexcept
            : sync_wait(std::move(token)), m_(m) {
            // A lock granted to a frame destroyed before it resumed goes to the next waiter.
            node_.primitive = &m;
            node_.abandon = [](void* p, detail::sync_waiter&) noexcept {
                static_cast<mutex*>(p)->unlock_locked();
            };
        }
        /// A free mutex is taken with one CAS, without the wait list's lock.
        bool await_ready() noexcept {
            if (!m_.try_acquire()) {
                return false;
            }
            node_.set_unparked(detail::sync_state::granted);
            return true;
        }
        result<guard> await_resume() noexcept {
            const detail::sync_state s = node_.finish();
            if (s == detail::sync_state::granted) {
                return guard(m_);
            }
            return detail::sync_error(s);
        }

    private:
        friend class detail::sync_wait<lock_awaitable>;
        static constexpr const char* name = "corio::mutex::lock";
        detail::sync_lock& lock() noexcept { return m_.lock_; }
        detail::sync_list& list() noexcept { return m_.waiters_; }
        // Wait-list lock held: takes a free mutex, or marks it contended so that its unlock
        // takes the slow path and finds this waiter (sync_wait enqueues it before unlocking).
        detail::sync_state try_locked() noexcept {
            state s = m_.state_.load(std::memory_order_relaxed);
            for (;;) {
                if (s == state::unlocked) {
                    if (m_.state_.compare_exchange_weak(s, state::locked, std::memory_order_acquire,
                                                        std::memory_order_relaxed)) {
                        return detail::sync_state::granted;
                    }
                } else if (s == state::contended ||
                           m_.state_.compare_exchange_weak(s, state::contended,
                                                           std::memory_order_relaxed)) {
                    return detail::sync_state::idle;
                }
            }
        }
        mutex& m_;
    };

    /// Waits for the lock and returns its guard. Errors: operation_canceled when `token` or the
    /// task's ambient token stops first (it then did not get the lock; a lock granted before
    /// the stop is kept); errc::closed if the mutex is destroyed meanwhile. Throws usage_error
    /// outside a runtime. Any number of tasks on any loops may wait.
    lock_awaitable lock(std::stop_token token = {}) noexcept { return {*this, std::move(token)}; }

private:
    // The lock word. While nobody waits, locking is one CAS from `unlocked` and unlocking one
    // back. A task about to wait moves it to `contended` under lock_, which sends the owner's
    // unlock to the wait list. A waiter cancelled meanwhile may leave `contended` with an
    // empty list: the next unlock then finds no one and frees the mutex.
    enum class state : unsigned char { unlocked, locked, contended };

    bool try_acquire() noexcept {
        state s = state::unlocked;
        return state_.compare_exchange_strong(s, state::locked, std::memory_order_acquire,
                                              std::memory_order_relaxed);
    }
    void unlock() noexcept {
        state s = state::locked;
        if (!state_.compare_exchange_strong(s, state::unlocked, std::memory_order_release,
                                            std::memory_order_relaxed)) {
            unlock_contended();
        }
    }
    void unlock_contended() noexcept {
        std::lock_guard lock(lock_);
        unlock_locked();
    }
    // lock_ held, by the owner of the lock (or for a granted waiter that went away). Hands the
    // lock straight to the first waiter: state_ stays locked, so no task barges in; with no one
    // behind it the next unlock is a single CAS again. Nobody else can move state_ meanwhile:
    // lockers change it only from `unlocked`, or under lock_.
    void unlock_locked() noexcept {
        if (detail::sync_waiter* w = waiters_.pop_front()) {
            if (waiters_.empty()) {
                state_.store(state::locked, std::memory_order_relaxed);
            }
            w->wake_locked(detail::sync_state::granted);
        } else {
            state_.store(state::unlocked, std::memory_order_release);
        }
    }

    std::atomic<state> state_{state::unlocked};
    detail::sync_lock lock_;     // guards waiters_ and the moves into and out of `contended`
    detail::sync_list waiters_;  // under lock_; non-empty only while state_ is contended
};

}  // namespace corio
