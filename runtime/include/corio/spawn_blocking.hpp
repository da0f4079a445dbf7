// SPDX-License-Identifier: MIT
// spawn_blocking: run a blocking call on the runtime's pool of blocking threads and await it.
#pragma once

#include <corio/cancel.hpp>
#include <corio/detail/blocking_pool.hpp>
#include <corio/detail/scheduler.hpp>
#include <corio/detail/waiter.hpp>
#include <corio/error.hpp>
#include <corio/result.hpp>
#include <corio/task.hpp>

#include <concepts>
#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <stop_token>
#include <system_error>
#include <type_traits>
#include <utility>

namespace corio {

/// The result type of spawn_blocking(fn) when fn returns R: R itself when R is a result<U>
/// (cancellation then arrives as its error), else result<R> (result<void> for void).
template <class R>
using blocking_result_t = std::conditional_t<detail::is_result<R>::value, R, result<R>>;

namespace detail {

/// What spawn_blocking(fn) keeps of fn's return: a value (a reference is copied on the pool).
template <class F>
using blocking_return_t = std::remove_cvref_t<std::invoke_result_t<F>>;

/// A job's outcome: fn's value or the exception it threw.
template <class R>
class blocking_call : public blocking_job {
public:
    blocking_result_t<R> take() {
        if (error_) {
            // Moved out: the exception object must die on this thread, not with the job on the
            // pool (its refcount lives in uninstrumented libstdc++, and TSan cannot see it).
            std::rethrow_exception(std::exchange(error_, nullptr));
        }
        if constexpr (std::is_void_v<R>) {
            return {};
        } else {
            return blocking_result_t<R>(std::move(*value_));
        }
    }

protected:
    template <class F>
    void invoke(F& fn) noexcept {
        try {
            if constexpr (std::is_void_v<R>) {
                std::invoke(std::move(fn));
            } else {
                value_.emplace(std::invoke(std::move(fn)));
            }
        } catch (...) {
            error_ = std::current_exception();
        }
    }

private:
    struct none {};
    std::conditional_t<std::is_void_v<R>, none, std::optional<R>> value_{};
    std::exception_ptr error_;
};

/// The job owns fn: it lives until it has run (and is destroyed there, on the pool thread),
/// or until the job is dropped unrun.
template <class R, class F>
class blocking_call_of final : public blocking_call<R> {
public:
    explicit blocking_call_of(F&& fn) : fn_(std::in_place, std::move(fn)) {}

private:
    void run() noexcept override {
        this->invoke(*fn_);
        fn_.reset();
    }
    std::optional<F> fn_;
};

/// The awaitable behind spawn_blocking: queues fn on the pool and parks the task until the job
/// ends, is cancelled or is dropped.
template <class R, class F>
class [[nodiscard]] blocking_awaitable {
    struct node final : waiter {
        blocking_pool* pool = nullptr;
        blocking_job* job = nullptr;
        blocking_phase phase = blocking_phase::queued;  // what abandon() found
    };

public:
    blocking_awaitable(F& fn, std::stop_token token) : fn_(fn), token_(std::move(token)) {}
    blocking_awaitable(const blocking_awaitable&) = delete;
    blocking_awaitable& operator=(const blocking_awaitable&) = delete;
    ~blocking_awaitable() {
        if (!job_) {
            return;
        }
        // Let go of the job first, under the pool's lock: after that no pool thread names n_,
        // so release() below sees (and forgets) any wake a finishing job had queued for it.
        if (n_.st == waiter::state::parked) {
            n_.detach(n_);
            n_.st = waiter::state::idle;
        }
        n_.release();
        job_->unref();
    }

    bool await_ready() const noexcept { return false; }

    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) {
        scheduler* s = loop_of(h, "corio::spawn_blocking").sched;  // usage_error off its loop
        if (!s->blocking()) {
            throw usage_error("corio::spawn_blocking: no runtime is running on this thread");
        }
        const std::stop_token* ambient = ambient_stop_of(h);
        if (token_.stop_requested() || (ambient && ambient->stop_requested())) {
            // Not even queued: a pool thread could otherwise start fn before watch_stop looks.
            failed_ = std::make_error_code(std::errc::operation_canceled);
            return false;
        }
        job_ = new blocking_call_of<R, F>(std::move(fn_));
        n_.sched = s;
        n_.handle = h;
        n_.note_park(root_of(h), "spawn_blocking");
        n_.pool = s->blocking();
        n_.job = job_;
        n_.detach = [](waiter& w) noexcept {
            auto& n = static_cast<node&>(w);
            n.phase = n.pool->abandon(*n.job);
        };
        n_.st = waiter::state::parked;  // before submit: a pool thread may wake it at once
        if (auto ec = n_.pool->submit(*job_, &n_)) {
            n_.st = waiter::state::idle;
            failed_ = ec;
            return false;
        }
        return n_.watch_stop(token_, ambient, promise_of(h));
    }

    blocking_result_t<R> await_resume() {
        n_.st = waiter::state::idle;
        if (failed_) {
            return failed_;
        }
        switch (n_.phase) {
        case blocking_phase::finished:
            return static_cast<blocking_call<R>*>(job_)->take();
        case blocking_phase::dropped:
            return errc::closed;
        case blocking_phase::queued:
        case blocking_phase::running:
            break;
        }
        return std::make_error_code(std::errc::operation_canceled);
    }

private:
    F& fn_;
    std::stop_token token_;
    node n_;
    blocking_call<R>* job_ = nullptr;
    std::error_code failed_;
};

}  // namespace detail

/// Runs `fn()` on the runtime's pool of blocking threads (runtime_options::blocking_threads)
/// and suspends the calling task meanwhile, so its loop keeps running other tasks; the task
/// resumes on its own loop. Use it for calls that would block a loop: getaddrinfo, file I/O on
/// a readiness backend, CPU-heavy work. Returns fn's value as blocking_result_t<R>; rethrows
/// what fn throws. Cancellation (`token` or the task's ambient token, e.g. with_timeout):
/// before fn starts, the job leaves the queue and fn never runs; once fn runs, the task
/// resumes at once with std::errc::operation_canceled while fn finishes on the pool and its
/// result (or exception) is dropped. A result already there when the task resumes is returned.
/// errc::closed if the runtime shuts the pool down before fn starts; the OS error if no pool
/// thread can be started. fn is moved into the job, which owns it (and its captures) until it
/// has run, even if the awaiting task is destroyed first. Throws usage_error outside a runtime.
template <class F>
    requires std::invocable<F> && std::move_constructible<F>
task<blocking_result_t<detail::blocking_return_t<F>>> spawn_blocking(F fn,
                                                                     std::stop_token token = {}) {
    co_return co_await detail::blocking_awaitable<detail::blocking_return_t<F>, F>(
        fn, std::move(token));
}

}  // namespace corio
