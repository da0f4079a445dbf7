// SPDX-License-Identifier: MIT
// sleep_for / sleep_until: suspend the calling task until a deadline on the runtime's clock.
#pragma once

#include <corio/clock.hpp>
#include <corio/detail/scheduler.hpp>
#include <corio/detail/waiter.hpp>
#include <corio/error.hpp>
#include <corio/result.hpp>

#include <chrono>
#include <coroutine>
#include <stop_token>

namespace corio {

/// The awaitable of sleep_for/sleep_until. Lives in the awaiting frame: no allocation.
/// Resumes with success at the deadline, or operation_canceled when a stop token fires first.
class [[nodiscard]] sleep_awaitable {
public:
    sleep_awaitable(clock_type::time_point deadline, std::stop_token token)
        : deadline_(deadline), token_(std::move(token)) {}
    sleep_awaitable(clock_type::duration delay, std::stop_token token)
        : delay_(delay), relative_(true), token_(std::move(token)) {}
    sleep_awaitable(const sleep_awaitable&) = delete;
    sleep_awaitable& operator=(const sleep_awaitable&) = delete;

    bool await_ready() const noexcept { return false; }

    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) {
        return suspend(h, *detail::loop_of(h, "corio::sleep").sched, detail::ambient_stop_of(h),
                       detail::promise_of(h));
    }

    result<void> await_resume() noexcept {
        w_.st = detail::waiter::state::idle;
        return w_.reason;
    }

private:
    bool suspend(std::coroutine_handle<> h, detail::scheduler& s, const std::stop_token* ambient,
                 detail::promise_base* frame) {
        w_.sched = &s;
        w_.handle = h;
        w_.deadline = relative_ ? detail::deadline_after(s.now(), delay_) : deadline_;
        w_.note_park(frame ? frame->root() : nullptr, detail::timed_waiter::until_text);
        s.timers().insert(w_);
        w_.st = detail::waiter::state::parked;
        return w_.watch_stop(token_, ambient, frame);
    }

    clock_type::time_point deadline_{};
    clock_type::duration delay_{};
    bool relative_ = false;
    std::stop_token token_;
    detail::timed_waiter w_;
};

/// Suspends until `delay` has passed on the runtime's clock. Returns success, or
/// std::errc::operation_canceled if `token` (or the task's ambient token) is stopped first.
/// A delay <= 0, down to duration::min(), still waits for the next turn of the loop, and no
/// longer; duration::max() (any delay past time_point::max()) saturates there and never fires.
/// Throws usage_error outside a runtime, or in a task resumed on a thread not its loop's.
inline sleep_awaitable sleep_for(clock_type::duration delay, std::stop_token token = {}) {
    return {delay, std::move(token)};
}

/// As sleep_for, until `deadline`: one at or before now (time_point::min() too) resumes at the
/// next turn of the loop, time_point::max() never.
inline sleep_awaitable sleep_until(clock_type::time_point deadline, std::stop_token token = {}) {
    return {deadline, std::move(token)};
}

}  // namespace corio
