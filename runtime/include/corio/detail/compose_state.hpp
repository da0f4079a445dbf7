// SPDX-License-Identifier: MIT
// compose_state: what when_all and when_any share with their children, in the parent's frame.
#pragma once

#include <corio/cancel.hpp>
#include <corio/detail/compose_child.hpp>
#include <corio/error.hpp>
#include <corio/task.hpp>

#include <array>
#include <coroutine>
#include <cstddef>
#include <optional>
#include <stop_token>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace corio::detail {

/// `co_await current_promise{}`: the promise of the calling task, without suspending.
struct current_promise {
    promise_base* p = nullptr;
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) noexcept {
        p = &h.promise();
        return false;
    }
    promise_base* await_resume() const noexcept { return p; }
};

/// The children's ambient stop token, how many are still running, and the parent once it waits
/// for them. Lives in the parent's frame: it outlives the children's runs (a destroyed parent
/// destroys their frames, which no longer read their token).
///
/// The token is a source of our own, stopped when the caller's ambient token is and by `first`.
/// It is made lazily (a lazy_stop_token): children that end without looking at their token,
/// the common case of a when_all whose tasks complete at once, cost no std::stop_source and no
/// atomic operation. Nothing can tell the difference: the token is made (linked to the caller's
/// ambient token, and already stopped if `first` stopped it meanwhile) before anyone sees it,
/// and a stop of the caller's token before then reaches it through the link.
class compose_state : lazy_stop_token {
public:
    static constexpr std::size_t none = static_cast<std::size_t>(-1);

    /// `first_wins`: when_any (the first child to end decides); else when_all (the first to
    /// throw does). `caller`: the task running the composition, whose ambient token (as it
    /// is when ours is made) ours is linked to; start_direct sets it.
    compose_state(bool first_wins, std::size_t children, promise_base* caller = nullptr) noexcept
        : lazy_stop_token{&make}, caller_(caller), pending_(children), first_wins_(first_wins) {}
    compose_state(const compose_state&) = delete;
    compose_state& operator=(const compose_state&) = delete;

    /// Starts child `i`: it runs here until it first suspends or ends.
    void start(const compose_child& c, std::size_t i) {
        compose_child::start(c.handle(), this, &child_done, i,
                             static_cast<lazy_stop_token*>(this));
    }

    /// `co_await all_done()`: resumes once every started child has ended.
    auto all_done() noexcept {
        struct awaitable {
            compose_state& st;
            bool await_ready() const noexcept { return st.pending_ == 0; }
            void await_suspend(std::coroutine_handle<> h) const noexcept { st.parent_ = h; }
            void await_resume() const noexcept {}
        };
        return awaitable{*this};
    }

    /// The index of the child that decided (none if no child threw, for when_all).
    std::size_t first() const noexcept { return first_; }
    std::size_t pending() const noexcept { return pending_; }

    /// A child run in place, without a frame around it (when_all(a, b, ...)): its continuation
    /// is the parent, which finds out which child ended by looking at them all.
    struct direct_child {
        std::coroutine_handle<> h;
        promise_base* p;
        bool ended = false;
    };

    /// `co_await start_direct(cs)`: starts the children in order, each running here until it
    /// first suspends or ends; suspends the parent unless they all ended. Each child that ends
    /// later resumes the parent: `while (pending()) co_await next_direct(cs);` then collects it.
    template <std::size_t N>
    struct start_awaitable {
        compose_state& st;
        std::array<direct_child, N>& cs;
        bool await_ready() const noexcept { return false; }
        template <class Promise>
        bool await_suspend(std::coroutine_handle<Promise> parent) noexcept {
            st.caller_ = &parent.promise();
            for (std::size_t i = 0; i < N; ++i) {
                st.start_direct_child(cs[i], i, parent);
            }
            return st.pending_ != 0;
        }
        void await_resume() const noexcept {}
    };
    template <std::size_t N>
    start_awaitable<N> start_direct(std::array<direct_child, N>& cs) noexcept {
        return {*this, cs};
    }
    template <std::size_t N>
    auto next_direct(std::array<direct_child, N>& cs) noexcept {
        struct awaitable {
            compose_state& st;
            std::array<direct_child, N>& cs;
            bool await_ready() const noexcept {
                for (std::size_t i = 0; i < N; ++i) {
                    if (!cs[i].ended && cs[i].h.done()) {
                        cs[i].ended = true;
                        st.ended(i, *cs[i].p);
                    }
                }
                return st.pending_ == 0;
            }
            void await_suspend(std::coroutine_handle<>) const noexcept {}
            void await_resume() const noexcept {}
        };
        return awaitable{*this, cs};
    }

private:
    void ended(std::size_t i, promise_base& p) noexcept {
        if (first_ == none && (first_wins_ || p.exception_)) {
            first_ = i;
            if (source_) {
                source_->request_stop();  // only schedules the others' cancellation
            } else {
                stopped_ = true;  // nobody has the token yet: it will be made stopped
            }
        }
        --pending_;
    }
    // As task's awaiter does, but with the parent as continuation even when the child ends
    // inline (then it does not resume the parent: see promise_base::on_final_suspend).
    void start_direct_child(direct_child& c, std::size_t i, std::coroutine_handle<> parent) {
        promise_base& p = *c.p;
        p.set_continuation(parent);
        if (!p.has_ambient_stop()) {
            p.set_ambient_stop(static_cast<lazy_stop_token*>(this));
        }
        p.inline_start_ = promise_base::inline_start::running;
        c.h.resume();
        if (p.inline_start_ == promise_base::inline_start::finished) {
            c.ended = true;
            ended(i, p);
        } else {
            p.inline_start_ = promise_base::inline_start::none;
        }
    }
    // Called by the children (loop thread) whenever they read their token. Making it cannot
    // fail but for std::bad_alloc, which terminates (a wait has nowhere to report it).
    static const std::stop_token* make(lazy_stop_token& self) noexcept {
        auto& st = static_cast<compose_state&>(self);
        if (!st.source_) {
            st.source_.emplace();
            st.token_ = st.source_->get_token();
            if (st.stopped_) {
                st.source_->request_stop();
            } else if (const std::stop_token* outer = st.caller_->ambient_stop();
                       outer && outer->stop_possible()) {
                st.link_.emplace(*outer, request_stop_on{&*st.source_});
            }
        }
        return &st.token_;
    }
    static std::coroutine_handle<> child_done(compose_child::promise_type& p) noexcept {
        auto& st = *static_cast<compose_state*>(p.parent);
        st.ended(p.index, p);
        if (st.pending_ == 0 && st.parent_) {
            return std::exchange(st.parent_, {});
        }
        return std::noop_coroutine();
    }

    std::optional<std::stop_source> source_;
    std::stop_token token_;
    std::optional<std::stop_callback<request_stop_on>> link_;
    promise_base* caller_;
    std::size_t pending_;
    std::size_t first_ = none;
    bool first_wins_;
    bool stopped_ = false;
    std::coroutine_handle<> parent_;
};

/// Makes a child for each task, storing into `slots`, and starts them in order.
template <class T>
std::vector<compose_child> start_children(compose_state& st, std::vector<task<T>>& ts,
                                          std::vector<compose_slot<T>>& slots) {
    std::vector<compose_child> children;
    children.reserve(ts.size());
    for (std::size_t i = 0; i < ts.size(); ++i) {
        children.push_back(run_child(std::move(ts[i]), slots[i]));
    }
    for (std::size_t i = 0; i < children.size(); ++i) {
        st.start(children[i], i);
    }
    return children;
}

/// The children of when_all(a, b, ...) and when_any(a, b, ...), to run in place.
template <class... Ts>
std::array<compose_state::direct_child, sizeof...(Ts)> direct_children(task<Ts>&... ts) noexcept {
    return {compose_state::direct_child{ts.handle(), &ts.handle().promise()}...};
}

/// What a finished child returned, void as void_result; rethrows what it threw.
template <class T>
compose_value_t<T> take_value(task<T>& t) {
    if constexpr (std::is_void_v<T>) {
        t.handle().promise().take_result();
        return {};
    } else {
        return t.handle().promise().take_result();
    }
}

[[noreturn]] inline void throw_unusable_child(const char* what) {
    throw usage_error(std::string(what) + ": an empty or already awaited task");
}

/// Throws usage_error unless every task can be awaited.
template <class... Tasks>
void check_children(const char* what, const Tasks&... ts) {
    if (!(ts.valid() && ...)) [[unlikely]] {
        throw_unusable_child(what);
    }
}

}  // namespace corio::detail
