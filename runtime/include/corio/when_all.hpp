// SPDX-License-Identifier: MIT
// when_all: runs tasks concurrently on the calling loop and waits for every one of them.
#pragma once

#include <corio/detail/compose_child.hpp>
#include <corio/detail/compose_state.hpp>
#include <corio/error.hpp>
#include <corio/task.hpp>

#include <array>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio {

namespace detail {

template <class... Ts>
task<std::tuple<compose_value_t<Ts>...>> when_all_of(task<Ts>... ts) {
    compose_state st(false, sizeof...(Ts));
    auto children = direct_children(ts...);
    co_await st.start_direct(children);
    while (st.pending() != 0) {
        co_await st.next_direct(children);
    }
    if (st.first() != compose_state::none) {
        children[st.first()].p->rethrow_if_exception();
    }
    co_return std::tuple<compose_value_t<Ts>...>(take_value(ts)...);
}

template <class T>
task<std::vector<compose_value_t<T>>> when_all_range(std::vector<task<T>> ts) {
    std::vector<compose_value_t<T>> out;
    if (ts.empty()) {
        co_return out;
    }
    compose_state st(false, ts.size(), co_await current_promise{});
    std::vector<compose_slot<T>> slots(ts.size());
    auto children = start_children(st, ts, slots);
    co_await st.all_done();
    if (st.first() != compose_state::none) {
        children[st.first()].handle().promise().rethrow_if_exception();
    }
    out.reserve(slots.size());
    for (auto& s : slots) {
        out.push_back(s.take());
    }
    co_return out;
}

}  // namespace detail

/// Runs every task concurrently on the calling loop and returns their results in argument
/// order, a task<void>'s as void_result (a task<T&>'s as T&). Each task is started in turn, at
/// once, and runs until it first suspends; they then run interleaved, as their waits complete.
/// Their ambient stop token is when_all's own, stopped when the caller's ambient token is (so
/// with_timeout around when_all, or cancelling its caller, cancels every wait inside them) and
/// when a task throws: the others are then cancelled, when_all waits for every one to end and
/// rethrows the FIRST exception (later ones are dropped). No task outlives when_all: destroying
/// it while suspended destroys them. Throws usage_error at the call if a task is empty or was
/// already awaited. when_all() with no task returns an empty tuple at once.
template <class... Ts>
task<std::tuple<detail::compose_value_t<Ts>...>> when_all(task<Ts>... ts) {
    detail::check_children("corio::when_all", ts...);
    return detail::when_all_of(std::move(ts)...);
}

/// As when_all(a, b, ...), for a vector of tasks of one type: their results in the vector's
/// order (void_result for task<void>). An empty vector gives an empty vector, without
/// suspending. Throws usage_error at the call if a task is empty or was already awaited.
template <class T>
task<std::vector<detail::compose_value_t<T>>> when_all(std::vector<task<T>> ts) {
    static_assert(!std::is_reference_v<T>, "corio::when_all: a vector of task<T&> is not supported");
    for (const auto& t : ts) {
        detail::check_children("corio::when_all", t);
    }
    return detail::when_all_range(std::move(ts));
}

}  // namespace corio
