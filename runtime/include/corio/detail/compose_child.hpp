// SPDX-License-Identifier: MIT
// compose_child: the coroutine that runs one child of when_all, when_any or a task_group.
#pragma once

#include <corio/detail/promise_base.hpp>
#include <corio/detail/scheduler.hpp>
#include <corio/task.hpp>

#include <coroutine>
#include <cstddef>
#include <optional>
#include <source_location>
#include <type_traits>
#include <utility>

namespace corio {

/// Stands for the result of a task<void> among the results of when_all and when_any.
struct void_result {
    friend bool operator==(void_result, void_result) noexcept = default;
};

namespace detail {

/// What a child of type T hands back: T, or void_result for void.
template <class T>
using compose_value_t = std::conditional_t<std::is_void_v<T>, void_result, T>;

/// Where a child's value waits for its parent (a reference is kept as a pointer).
template <class T>
class compose_slot {
public:
    template <class U>
    void set(U&& v) {
        v_.emplace(std::forward<U>(v));
    }
    T take() { return std::move(*v_); }

private:
    std::optional<T> v_;
};
template <class T>
class compose_slot<T&> {
public:
    void set(T& v) noexcept { p_ = &v; }
    T& take() const noexcept { return *p_; }

private:
    T* p_ = nullptr;
};
template <>
class compose_slot<void> {
public:
    void_result take() const noexcept { return {}; }
};

/// The frame around one child task: awaits it (so the task inherits this frame's ambient stop
/// token, which the parent sets) and, at its end, calls the parent's on_done, which returns
/// where control goes next. Owned by the compose_child object until release().
class [[nodiscard]] compose_child {
public:
    struct promise_type final : promise_base {
        /// Called at the final suspend point; may destroy the frame (task_group does).
        std::coroutine_handle<> (*on_done)(promise_type&) noexcept = nullptr;
        void* parent = nullptr;
        std::size_t index = 0;
        promise_type* prev = nullptr;  // task_group's list of live children
        promise_type* next = nullptr;
        scheduler* tracked_by = nullptr;  // a task_group child: listed there (task dump)

        promise_type() noexcept = default;
        promise_type(const promise_type&) = delete;
        promise_type& operator=(const promise_type&) = delete;
        ~promise_type() {
            if (tracked_by) {
                tracked_by->untrack(*this);
            }
        }
        /// Makes this child a task of its own on `s` (task_group): dumps and stall reports
        /// list it, spawned from `at`, with what it and the tasks it awaits wait on.
        void track_on(scheduler& s, std::source_location at) noexcept {
            make_root(at);
            set_loop(s.context());
            s.track(*this);
            tracked_by = &s;
        }

        compose_child get_return_object() noexcept {
            return compose_child{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        struct final_awaiter {
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(
                std::coroutine_handle<promise_type> h) const noexcept {
                auto& p = h.promise();
                return p.on_done(p);
            }
            void await_resume() const noexcept {}
        };
        final_awaiter final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
    };
    using handle_type = std::coroutine_handle<promise_type>;

    compose_child() noexcept = default;
    explicit compose_child(handle_type h) noexcept : h_(h) {}
    compose_child(compose_child&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    compose_child& operator=(compose_child&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    ~compose_child() { reset(); }

    handle_type handle() const noexcept { return h_; }
    handle_type release() noexcept { return std::exchange(h_, {}); }
    /// Points the child at its parent and starts it: it runs here until it first suspends or
    /// ends (then on_done has already run). `token`: its ambient token, a std::stop_token or a
    /// lazy_stop_token.
    template <class Token>
    static void start(handle_type h, void* parent,
                      std::coroutine_handle<> (*on_done)(promise_type&) noexcept,
                      std::size_t index, Token* token) {
        auto& p = h.promise();
        p.parent = parent;
        p.on_done = on_done;
        p.index = index;
        p.set_ambient_stop(token);
        h.resume();
    }

private:
    void reset() noexcept {
        if (h_) {
            h_.destroy();  // a suspended child's waits unlink themselves as its frames go
            h_ = {};
        }
    }
    handle_type h_;
};

/// Runs `t` and stores its value in `out`.
template <class T>
compose_child run_child(task<T> t, compose_slot<T>& out) {
    if constexpr (std::is_void_v<T>) {
        co_await std::move(t);
    } else {
        out.set(co_await std::move(t));
    }
}

/// Runs `t` and drops its value.
template <class T>
compose_child run_child_dropping(task<T> t) {
    if constexpr (std::is_void_v<T>) {
        co_await std::move(t);
    } else {
        (void)co_await std::move(t);
    }
}

}  // namespace detail
}  // namespace corio
