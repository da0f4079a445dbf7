// SPDX-License-Identifier: MIT
// mutex: an asynchronous lock, handed to waiting tasks first come, first served.
#pragma once

#include <corio/detail/sync_wait.hpp>
#include <corio/detail/sync_waiter.hpp>
#include <corio/error.hpp>
#include <corio/result.hpp>

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
        std::lock_guard lock(lock_);
        if (locked_) {
            return std::errc::resource_unavailable_try_again;
        }
        locked_ = true;
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
        detail::sync_state try_locked() noexcept {
            if (m_.locked_) {
                return detail::sync_state::idle;
            }
            m_.locked_ = true;
            return detail::sync_state::granted;
        }
        mutex& m_;
    };

    /// Waits for the lock and returns its guard. Errors: operation_canceled when `token` or the
    /// task's ambient token stops first (it then did not get the lock; a lock granted before
    /// the stop is kept); errc::closed if the mutex is destroyed meanwhile. Throws usage_error
    /// outside a runtime. Any number of tasks on any loops may wait.
    lock_awaitable lock(std::stop_token token = {}) noexcept { return {*this, std::move(token)}; }

private:
    void unlock() noexcept {
        std::lock_guard lock(lock_);
        unlock_locked();
    }
    // Hands the lock straight to the first waiter: locked_ stays true, so no task barges in.
    void unlock_locked() noexcept {
        if (detail::sync_waiter* w = waiters_.pop_front()) {
            w->wake_locked(detail::sync_state::granted);
        } else {
            locked_ = false;
        }
    }

    detail::sync_lock lock_;
    bool locked_ = false;          // under lock_; true while a guard or a granted waiter owns it
    detail::sync_list waiters_;    // under lock_; non-empty only while locked_
};

}  // namespace corio
