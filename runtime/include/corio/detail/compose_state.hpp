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

/// The children's ambient stop token (a source of our own, stopped when the caller's ambient
/// token is, and by `first`), how many are still running, and the parent once it waits for
/// them. Declared before the children in the parent's frame, so it outlives them.
class compose_state {
public:
    static constexpr std::size_t none = static_cast<std::size_t>(-1);

    /// `first_wins`: when_any (the first child to end decides); else when_all (the first to
    /// throw does). `outer`: the caller's ambient token, linked to ours.
    compose_state(bool first_wins, std::size_t children, const std::stop_token* outer)
        : pending_(children), first_wins_(first_wins) {
        if (outer && outer->stop_possible()) {
            link_.emplace(*outer, request_stop_on{&source_});
        }
    }
    compose_state(const compose_state&) = delete;
    compose_state& operator=(const compose_state&) = delete;

    /// Starts child `i`: it runs here until it first suspends or ends.
    void start(const compose_child& c, std::size_t i) {
        compose_child::start(c.handle(), this, &child_done, i, &token_);
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

private:
    static std::coroutine_handle<> child_done(compose_child::promise_type& p) noexcept {
        auto& st = *static_cast<compose_state*>(p.parent);
        if (st.first_ == none && (st.first_wins_ || p.exception_)) {
            st.first_ = p.index;
            st.source_.request_stop();  // only schedules the others' cancellation
        }
        if (--st.pending_ == 0 && st.parent_) {
            return std::exchange(st.parent_, {});
        }
        return std::noop_coroutine();
    }

    std::stop_source source_;
    std::stop_token token_ = source_.get_token();
    std::optional<std::stop_callback<request_stop_on>> link_;
    std::size_t pending_;
    std::size_t first_ = none;
    bool first_wins_;
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

/// As start_children, for when_all(a, b, ...) and when_any(a, b, ...).
template <class... Ts, std::size_t... I>
std::array<compose_child, sizeof...(Ts)> start_children(compose_state& st,
                                                        std::index_sequence<I...>,
                                                        std::tuple<compose_slot<Ts>...>& slots,
                                                        task<Ts>&... ts) {
    std::array<compose_child, sizeof...(Ts)> children{
        run_child(std::move(ts), std::get<I>(slots))...};
    (st.start(children[I], I), ...);
    return children;
}

/// Throws usage_error unless every task can be awaited.
template <class... Tasks>
void check_children(const char* what, const Tasks&... ts) {
    if (!(ts.valid() && ...)) {
        throw usage_error(std::string(what) + ": an empty or already awaited task");
    }
}

}  // namespace corio::detail
