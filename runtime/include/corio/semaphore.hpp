// SPDX-License-Identifier: MIT
// semaphore: a counting semaphore whose permits tasks wait for, first come, first served.
#pragma once

#include <corio/detail/sync_wait.hpp>
#include <corio/detail/sync_waiter.hpp>
#include <corio/error.hpp>
#include <corio/result.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
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

    /// Throws usage_error if `permits` is more than max_permits.
    explicit semaphore(std::size_t permits) : word_(word_of(permits)) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;
    /// Waiters left (only possible in a single loop's teardown) resume with errc::closed.
    ~semaphore() {
        std::lock_guard lock(lock_);
        waiters_.close_all();
    }

    /// The most permits a semaphore holds (the count shares a word with a flag).
    static constexpr std::size_t max_permits = SIZE_MAX >> 1;

    /// Permits free now (a snapshot when other threads use the semaphore).
    std::size_t available() const noexcept {
        return word_.load(std::memory_order_relaxed) >> 1;
    }
    /// Adds `n` permits: each goes to the longest waiter, the rest are kept (the count must
    /// stay within max_permits; that is not checked). Any thread.
    void release(std::size_t n = 1) noexcept {
        std::size_t w = word_.load(std::memory_order_relaxed);
        while (!(w & waiting)) {
            if (word_.compare_exchange_weak(w, w + 2 * n, std::memory_order_release,
                                            std::memory_order_relaxed)) {
                return;
            }
        }
        std::lock_guard lock(lock_);
        release_locked(n);
    }
    /// Takes a permit without waiting. Errors: resource_unavailable_try_again when none is
    /// free. Any thread, runtime or not.
    result<permit> try_acquire() noexcept {
        if (!take_free()) {
            return std::errc::resource_unavailable_try_again;
        }
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
        /// A free permit is taken with one CAS, without the wait list's lock.
        bool await_ready() noexcept {
            if (!s_.take_free()) {
                return false;
            }
            node_.set_unparked(detail::sync_state::granted);
            return true;
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
        // Wait-list lock held: takes a free permit, or flags the word so that a release takes
        // the slow path and finds this waiter (sync_wait enqueues it before unlocking).
        detail::sync_state try_locked() noexcept {
            std::size_t w = s_.word_.load(std::memory_order_relaxed);
            for (;;) {
                if (w >= 2) {
                    if (s_.word_.compare_exchange_weak(w, w - 2, std::memory_order_acquire,
                                                       std::memory_order_relaxed)) {
                        return detail::sync_state::granted;
                    }
                } else if (w == waiting ||
                           s_.word_.compare_exchange_weak(w, waiting, std::memory_order_relaxed)) {
                    return detail::sync_state::idle;
                }
            }
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
    // The word is 2 * permits, plus the `waiting` bit, set (under lock_, with no permit free)
    // by a task about to wait: it sends releases to the wait list. Waiters cancelled meanwhile
    // may leave the bit with an empty list; the next release then clears it.
    static constexpr std::size_t waiting = 1;
    static std::size_t word_of(std::size_t permits) {
        if (permits > max_permits) {
            throw usage_error("corio::semaphore: more than max_permits");
        }
        return permits * 2;
    }
    bool take_free() noexcept {
        std::size_t w = word_.load(std::memory_order_relaxed);
        while (w >= 2) {  // a permit is free, so the bit is clear
            if (word_.compare_exchange_weak(w, w - 2, std::memory_order_acquire,
                                            std::memory_order_relaxed)) {
                return true;
            }
        }
        return false;
    }
    // lock_ held. Permits go straight to waiters while any wait, so none is free then: no
    // barging. What is left clears the bit; the CAS loop because, with the bit clear (a
    // permit given back by a granted waiter that went away), takers may run meanwhile.
    void release_locked(std::size_t n) noexcept {
        for (; n > 0; --n) {
            detail::sync_waiter* w = waiters_.pop_front();
            if (!w) {
                break;
            }
            w->wake_locked(detail::sync_state::granted);
        }
        if (!waiters_.empty()) {
            return;
        }
        std::size_t w = word_.load(std::memory_order_relaxed);
        while (!word_.compare_exchange_weak(w, (w & ~waiting) + 2 * n, std::memory_order_release,
                                            std::memory_order_relaxed)) {
        }
    }

    std::atomic<std::size_t> word_;  // 2 * free permits | waiting
    mutable detail::sync_lock lock_;  // guards waiters_ and the moves of the `waiting` bit
    detail::sync_list waiters_;       // under lock_; non-empty only while the bit is set
};

}  // namespace corio
