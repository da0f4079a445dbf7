// SPDX-License-Identifier: MIT
// task<T>: a lazy, move-only coroutine that produces a T for the one coroutine awaiting it.
#pragma once

#include <corio/detail/promise_base.hpp>
#include <corio/error.hpp>

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace corio {

template <class T = void>
class task;

namespace detail {

template <class T>
class task_promise final : public promise_base {
public:
    task<T> get_return_object() noexcept;
    template <class U>
        requires std::is_convertible_v<U&&, T>
    void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        value_.emplace(std::forward<U>(v));
    }
    T take_result() {
        rethrow_if_exception();
        return std::move(*value_);
    }

private:
    std::optional<T> value_;
};

template <class T>
class task_promise<T&> final : public promise_base {
public:
    task<T&> get_return_object() noexcept;
    void return_value(T& v) noexcept { value_ = std::addressof(v); }
    T& take_result() {
        rethrow_if_exception();
        return *value_;
    }

private:
    T* value_ = nullptr;
};

template <>
class task_promise<void> final : public promise_base {
public:
    task<void> get_return_object() noexcept;
    void return_void() const noexcept {}
    void take_result() const { rethrow_if_exception(); }
};

}  // namespace detail

/// A coroutine that starts when awaited and hands its result (or exception) to its awaiter.
/// Move-only; await it once. Destroying an unawaited or suspended task destroys its frame.
template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;

    task() noexcept = default;
    explicit task(handle_type h) noexcept : h_(h) {}
    task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    task& operator=(task&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { reset(); }

    /// True while the task holds a coroutine that has not been awaited yet.
    bool valid() const noexcept { return h_ && !awaited_; }
    bool done() const noexcept { return h_ && h_.done(); }

    struct awaiter {
        handle_type h;
        bool await_ready() const noexcept { return false; }
        /// Throws usage_error when the parent runs on a thread that is not its loop's (it was
        /// resumed by another thread): the child would inherit a loop it does not run on.
        template <class Promise>
        bool await_suspend(std::coroutine_handle<Promise> parent) {
            // The child runs where its parent does. A parent that has no loop (a coroutine
            // that is not a corio task, e.g. a task_group's child frame) gives the thread's.
            detail::io_loop* here = detail::this_thread_loop;
            detail::io_loop* loop = detail::loop_of_task(parent);
            if (!loop) {
                loop = here;
            } else if (loop != here) [[unlikely]] {
                detail::throw_foreign_thread("corio::task: awaited");
            }
            auto& p = h.promise();
            p.set_loop(loop);
            p.set_continuation(parent);
            detail::inherit_ambient_stop(p, parent);
            p.set_root(detail::root_of(parent));  // its waits show in the spawned task's dump
            // Run the child here rather than by symmetric transfer: g++ makes that transfer a
            // tail call only at -O2 without sanitizers, so a loop of awaits of tasks that end
            // synchronously would otherwise nest two frames per await. A child that ends
            // inline returns here (see on_final_suspend) and the parent goes on without
            // suspending; one that suspends resumes the parent when it ends.
            p.inline_start_ = promise_type::inline_start::running;
            h.resume();
            if (p.inline_start_ == promise_type::inline_start::finished) {
                return false;
            }
            p.inline_start_ = promise_type::inline_start::none;
            return true;
        }
        T await_resume() { return h.promise().take_result(); }
    };

    /// Starts the task and suspends the caller until it finishes; returns its value or
    /// rethrows its exception. Throws usage_error if the task is empty or already awaited.
    awaiter operator co_await() & { return awaiter{claim()}; }
    awaiter operator co_await() && { return awaiter{claim()}; }

    /// For the runtime and combinators: the coroutine handle, without giving it up.
    handle_type handle() const noexcept { return h_; }
    /// Gives up ownership of the coroutine (the caller now destroys it).
    handle_type release() noexcept { return std::exchange(h_, {}); }

private:
    handle_type claim() {
        if (!h_) {
            throw usage_error("corio::task: awaiting an empty (moved-from) task");
        }
        if (awaited_) {
            throw usage_error("corio::task: a task can be awaited only once");
        }
        awaited_ = true;
        return h_;
    }
    void reset() noexcept {
        if (h_) {
            h_.destroy();
            h_ = {};
        }
    }
    handle_type h_;
    bool awaited_ = false;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>{std::coroutine_handle<task_promise>::from_promise(*this)};
}
template <class T>
task<T&> task_promise<T&>::get_return_object() noexcept {
    return task<T&>{std::coroutine_handle<task_promise>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>{std::coroutine_handle<task_promise>::from_promise(*this)};
}
}  // namespace detail

}  // namespace corio
