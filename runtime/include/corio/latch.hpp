// SPDX-License-Identifier: MIT
// latch: a single-use countdown that tasks wait on until it reaches zero, like std::latch.
#pragma once

#include <corio/error.hpp>
#include <corio/event.hpp>

#include <atomic>
#include <cstddef>
#include <stop_token>
#include <utility>

namespace corio {

/// A counter set once at construction; count_down() lowers it, and wait() resumes every waiter
/// when it reaches zero. Thread-safe: count down from any thread; waiters resume on their loops.
class latch {
public:
    /// Throws usage_error if `expected` < 0.
    explicit latch(std::ptrdiff_t expected) : count_(expected) {
        if (expected < 0) {
            throw usage_error("corio::latch: negative count");
        }
        if (expected == 0) {
            zero_.set();
        }
    }
    latch(const latch&) = delete;
    latch& operator=(const latch&) = delete;

    /// Lowers the count by `n`; at zero resumes every waiter. Throws usage_error (and changes
    /// nothing) if `n` < 0 or `n` is more than the count left. Any thread; never suspends.
    void count_down(std::ptrdiff_t n = 1) {
        std::ptrdiff_t left = count_.load(std::memory_order_relaxed);
        do {
            if (n < 0 || n > left) {
                throw usage_error("corio::latch::count_down: more than the count left");
            }
        } while (!count_.compare_exchange_weak(left, left - n, std::memory_order_acq_rel));
        if (left == n && n > 0) {
            zero_.set();
        }
    }
    /// True once the count is zero.
    bool try_wait() const noexcept { return zero_.is_set(); }
    /// Waits until the count is zero (at once if it is). Errors: operation_canceled when
    /// `token` or the task's ambient token stops first; errc::closed if the latch is destroyed
    /// first. Throws usage_error outside a runtime.
    event::awaitable wait(std::stop_token token = {}) noexcept { return zero_.wait(std::move(token)); }
    /// count_down(n), then wait(token): errors and throws as those two.
    event::awaitable arrive_and_wait(std::ptrdiff_t n = 1, std::stop_token token = {}) {
        count_down(n);
        return wait(std::move(token));
    }

private:
    std::atomic<std::ptrdiff_t> count_;
    event zero_;  // set when count_ reaches zero; never reset
};

}  // namespace corio
