// SPDX-License-Identifier: MIT
// semaphore: a counting semaphore whose permits tasks wait for, first come, first served.
#pragma once

#include <corio/detail/sync_wait.hpp>
#include <corio/detail/sync_waiter.hpp>
#include <corio/error.hpp>
#include <corio/result.hpp>

#include <cstddef>
#include <mutex>
#include <stop_token>
#include <system_error>
#include <utility>

namespace corio {

/// A count of permits: acquire() takes one (waiting while there is none), release() adds.
/// Tasks on any loop share it; released permits go to the longest waiter first.
class semaphore {
public:
    /// One acquired permit, given back when destroyed (or on release()) unless forget()
    /// was called. Move-only; may be destroyed on another thread.
    class permit {
    public:
        permit() noexcept = default;
        permit(permit&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
        permit& operator=(permit&& o) noexcept {
            if (this != &o) {
                release();
                s_ = std::exchange(o.s_, nullptr);
            }
            return *this;
        }
        ~permit() { release(); }

        /// True while this object holds a permit.
        bool owns_permit() const noexcept { return s_ != nullptr; }
        /// Gives the permit back now; later calls do nothing.
        void release() noexcept {
            if (s_) {
                std::exchange(s_, nullptr)->release(1);
            }
        }
        /// Keeps the permit taken for good (a semaphore used as a counter of events).
        void forget() noexcept { s_ = nullptr; }

    private:
        friend class semaphore;
        explicit permit(semaphore& s) noexcept : s_(&s) {}
        semaphore* s_ = nullptr;
    };

    explicit semaphore(std::size_t permits) noexcept : permits_(permits) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;
    /// Waiters left (only possible in a single loop's teardown) resume with errc::closed.
    ~semaphore() {
        std::lock_guard lock(lock_);
        waiters_.close_all();
    }

    /// Permits free now (a snapshot when other threads use the semaphore).
    std::size_t available() const noexcept {
        std::lock_guard lock(lock_);
        return permits_;
    }
    /// Adds `n` permits: each goes to the longest waiter, the rest are kept. Any thread.
    void release(std::size_t n = 1) noexcept {
        std::lock_guard lock(lock_);
        release_locked(n);
    }
    /// Takes a permit without waiting. Errors: resource_unavailable_try_again when none is
    /// free. Any thread, runtime or not.
    result<permit> try_acquire() noexcept {
        std::lock_guard lock(lock_);
        if (permits_ == 0) {
            return std::errc::resource_unavailable_try_again;
        }
        --permits_;
        return permit(*this);
    }

    /// The awaitable of acquire().
    class [[nodiscard]] acquire_awaitable : public detail::sync_wait<acquire_awaitable> {
    public:
        acquire_awaitable(semaphore& s, std::stop_token token) noexcept
            : sync_wait(std::move(token)), s_(s) {
            // A permit granted to a frame destroyed before it resumed goes to the next waiter.
            node_.primitive = &s;
            node_.abandon = [](void* p, detail::sync_waiter&) noexcept {
                static_cast<semaphore*>(p)->release_locked(1);
            };
        }
        result<permit> await_resume() noexcept {
            const detail::sync_state s = node_.finish();
            if (s == detail::sync_state::granted) {
                return permit(s_);
            }
            return detail::sync_error(s);
        }

    private:
        friend class detail::sync_wait<acquire_awaitable>;
        static constexpr const char* name = "corio::semaphore::acquire";
        detail::sync_lock& lock() noexcept { return s_.lock_; }
        detail::sync_list& list() noexcept { return s_.waiters_; }
        detail::sync_state try_locked() noexcept {
            if (s_.permits_ == 0) {
                return detail::sync_state::idle;
            }
            --s_.permits_;
            return detail::sync_state::granted;
        }
        semaphore& s_;
    };

    /// Waits for a permit. Errors: operation_canceled when `token` or the task's ambient token
    /// stops first (no permit was taken); errc::closed if the semaphore is destroyed meanwhile.
    /// Throws usage_error outside a runtime when it must wait. Any number of tasks on any loops
    /// may wait.
    acquire_awaitable acquire(std::stop_token token = {}) noexcept {
        return {*this, std::move(token)};
    }

private:
    // Permits go straight to waiters, so permits_ > 0 only while nobody waits: no barging.
    void release_locked(std::size_t n) noexcept {
        for (; n > 0; --n) {
            detail::sync_waiter* w = waiters_.pop_front();
            if (!w) {
                break;
            }
            w->wake_locked(detail::sync_state::granted);
        }
        permits_ += n;
    }

    mutable detail::sync_lock lock_;
    std::size_t permits_;         // under lock_
    detail::sync_list waiters_;   // under lock_; non-empty only while permits_ == 0
};

}  // namespace corio
