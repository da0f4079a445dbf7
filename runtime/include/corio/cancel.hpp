// SPDX-License-Identifier: MIT
// Cancellation: the task's ambient stop token, and with_timeout.
#pragma once

#include <corio/clock.hpp>
#include <corio/detail/scheduler.hpp>
#include <corio/result.hpp>
#include <corio/task.hpp>

#include <coroutine>
#include <optional>
#include <stop_token>
#include <type_traits>

namespace corio {

namespace detail {
template <class T>
struct is_result : std::false_type {};
template <class U>
struct is_result<result<U>> : std::true_type {};

/// `co_await current_ambient{}`: the calling task's ambient stop token (nullptr if none),
/// without copying it.
struct current_ambient {
    const std::stop_token* token = nullptr;
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) noexcept {
        token = ambient_stop_of(h);
        return false;  // never actually suspends
    }
    const std::stop_token* await_resume() const noexcept { return token; }
};

struct ambient_stop_awaitable : current_ambient {
    std::stop_token await_resume() const noexcept { return token ? *token : std::stop_token{}; }
};

struct request_stop_on {
    std::stop_source* source;
    void operator()() const noexcept { source->request_stop(); }
};

/// A timer that stops a stop_source when it fires; cancelled on destruction.
struct deadline_timer final : timer_node {
    scheduler* sched;
    std::stop_source* source;
    bool fired = false;
    deadline_timer(scheduler& s, clock_type::time_point when, std::stop_source& src)
        : sched(&s), source(&src) {
        deadline = when;
        fire = [](timer_node* n) {
            auto* self = static_cast<deadline_timer*>(n);
            self->fired = true;
            self->source->request_stop();
        };
        s.timers().insert(*this);
    }
    deadline_timer(const deadline_timer&) = delete;
    deadline_timer& operator=(const deadline_timer&) = delete;
    ~deadline_timer() { sched->timers().cancel(*this); }
};
}  // namespace detail

namespace this_task {
/// `co_await this_task::stop_token()`: the calling task's ambient token, the one that cancels
/// its waits. A task inherits its awaiter's, unless it was given its own first: by
/// with_stop_token, with_timeout, spawn(t, token), or as a child of when_all, when_any or a
/// task_group (their token, linked to their caller's). An empty token when nothing can cancel
/// the task (a block_on task, or one spawned without a token, and what they await).
inline detail::ambient_stop_awaitable stop_token() noexcept { return {}; }
}  // namespace this_task

/// Runs `t` with `token` as its ambient stop token instead of the awaiting task's: every wait
/// inside `t`, however deep, follows `token` (for the children of when_all, when_any and
/// task_group inside it, see docs/composition.md), and cancelling the caller no longer reaches
/// them. An empty token makes them uncancellable: for cleanup that must finish (a
/// server's drain). Returns what `t` returns; exceptions propagate.
template <class T>
task<T> with_stop_token(std::stop_token token, task<T> t) {
    if (!t.valid()) {
        throw usage_error("corio::with_stop_token: empty or already awaited task");
    }
    t.handle().promise().set_ambient_stop(&token);  // `token` lives in this frame until t ends
    co_return co_await std::move(t);
}

/// The result type of with_timeout(d, task<T>): T itself when T is a result<U>, else result<T>.
template <class T>
using timeout_result_t = std::conditional_t<detail::is_result<T>::value, T, result<T>>;

/// Runs `t`, and if it has not finished `d` after the call, stops its ambient token: every
/// waiting operation inside resumes with operation_canceled, and with_timeout then yields
/// std::errc::timed_out. A result<U> that `t` completed with a value is returned even if the
/// deadline passed meanwhile, so received data is never dropped; for other T the value is
/// discarded once the deadline fired. Cancelling the caller cancels `t` too. Exceptions from
/// `t` propagate. A d <= 0, down to duration::min(), stops `t` at the loop's next turn (a `t` that
/// finishes without waiting still returns its value); duration::max() never stops it. Throws
/// usage_error outside a runtime.
template <class T>
task<timeout_result_t<T>> with_timeout(clock_type::duration d, task<T> t) {
    auto* s = detail::scheduler::current();
    if (!s) {
        throw usage_error("corio::with_timeout: no runtime is running on this thread");
    }
    if (!t.valid()) {
        throw usage_error("corio::with_timeout: empty or already awaited task");
    }
    std::stop_source source;
    const std::stop_token inner = source.get_token();
    const std::stop_token outer = co_await this_task::stop_token();
    std::optional<std::stop_callback<detail::request_stop_on>> link;
    if (outer.stop_possible()) {
        link.emplace(outer, detail::request_stop_on{&source});
    }
    detail::deadline_timer timer(*s, detail::deadline_after(s->now(), d), source);
    t.handle().promise().set_ambient_stop(&inner);
    if constexpr (std::is_void_v<T>) {
        co_await std::move(t);
        if (timer.fired) {
            co_return std::errc::timed_out;
        }
        co_return result<void>{};
    } else if constexpr (detail::is_result<T>::value) {
        T r = co_await std::move(t);
        if (timer.fired && !r) {
            co_return std::errc::timed_out;
        }
        co_return r;
    } else {
        decltype(auto) v = co_await std::move(t);
        if (timer.fired) {
            co_return std::errc::timed_out;
        }
        co_return result<T>(std::forward<decltype(v)>(v));
    }
}

}  // namespace corio
