// SPDX-License-Identifier: MIT
// when_any: runs tasks concurrently on the calling loop; the first to finish wins, the others
// are cancelled and awaited.
#pragma once

#include <corio/detail/compose_child.hpp>
#include <corio/detail/compose_state.hpp>
#include <corio/error.hpp>
#include <corio/task.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace corio {

/// What when_any(a, b, ...) returns: which task finished first (its argument position) and
/// its result, held in `value` at that same position (value.index() == index).
template <class... Ts>
struct when_any_result {
    std::size_t index;
    std::variant<detail::compose_value_t<Ts>...> value;
};

/// What when_any(std::vector<task<T>>) returns: the position of the task that finished first
/// and its result (void_result for task<void>).
template <class T>
struct when_any_range_result {
    std::size_t index;
    detail::compose_value_t<T> value;
};

namespace detail {

template <class... Ts, std::size_t... I>
task<when_any_result<Ts...>> when_any_of(std::index_sequence<I...>, task<Ts>... ts) {
    compose_state st(true, sizeof...(Ts));
    auto children = direct_children(ts...);
    co_await st.start_direct(children);
    while (st.pending() != 0) {
        co_await st.next_direct(children);
    }
    const std::size_t winner = st.first();
    children[winner].p->rethrow_if_exception();
    std::optional<std::variant<compose_value_t<Ts>...>> value;
    ((I == winner ? (void)value.emplace(std::in_place_index<I>, take_value(ts)) : void()), ...);
    co_return when_any_result<Ts...>{winner, std::move(*value)};
}

template <class T>
task<when_any_range_result<T>> when_any_range(std::vector<task<T>> ts) {
    compose_state st(true, ts.size(), co_await current_promise{});
    std::vector<compose_slot<T>> slots(ts.size());
    auto children = start_children(st, ts, slots);
    co_await st.all_done();
    const std::size_t winner = st.first();
    children[winner].handle().promise().rethrow_if_exception();
    co_return when_any_range_result<T>{winner, slots[winner].take()};
}

}  // namespace detail

/// Runs every task concurrently on the calling loop until the first one finishes (returns or
/// throws): that one wins. Then the others' ambient stop token is stopped, so their waits
/// resume with operation_canceled, and when_any waits for every one of them to end before it
/// returns the winner's index and value, or rethrows the winner's exception. What a loser
/// returns or throws (one that finished anyway, racing the winner, included) is dropped.
/// Tasks are started in argument order, each running until it first suspends; one that
/// finishes at once wins, and those after it start already cancelled. The tasks' ambient token
/// is also stopped when the caller's is: with_timeout(d, when_any(...)) cancels them all, and
/// the first to end (typically with operation_canceled) is then the winner. Destroying
/// when_any while suspended destroys the tasks. Throws usage_error at the call if a task is
/// empty or was already awaited.
template <class... Ts>
task<when_any_result<Ts...>> when_any(task<Ts>... ts) {
    static_assert(sizeof...(Ts) > 0, "corio::when_any: needs at least one task");
    static_assert((!std::is_reference_v<Ts> && ...),
                  "corio::when_any: task<T&> is not supported (return a pointer)");
    detail::check_children("corio::when_any", ts...);
    return detail::when_any_of(std::index_sequence_for<Ts...>{}, std::move(ts)...);
}

/// As when_any(a, b, ...), for a vector of tasks of one type. Throws usage_error at the call if
/// the vector is empty (there would be no winner) or a task is empty or was already awaited.
template <class T>
task<when_any_range_result<T>> when_any(std::vector<task<T>> ts) {
    static_assert(!std::is_reference_v<T>,
                  "corio::when_any: task<T&> is not supported (return a pointer)");
    if (ts.empty()) {
        throw usage_error("corio::when_any: an empty vector of tasks has no winner");
    }
    for (const auto& t : ts) {
        detail::check_children("corio::when_any", t);
    }
    return detail::when_any_range(std::move(ts));
}

}  // namespace corio
