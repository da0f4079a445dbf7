// SPDX-License-Identifier: MIT
// timer_queue's list primitives, shared by its near and far wheels: linking and the walk that
// visits several lists side by side.
#pragma once

#include <corio/detail/timer_queue.hpp>

#include <cstdint>

namespace corio::detail {

inline void timer_queue::append(timer_link& sentinel, timer_node& n) noexcept {
    timer_link* tail = sentinel.prev_;
    n.prev_ = tail;
    n.next_ = &sentinel;
    tail->next_ = &n;
    sentinel.prev_ = &n;
}

inline void timer_queue::unlink_links(timer_node& n) noexcept {
    n.prev_->next_ = n.next_;
    n.next_->prev_ = n.prev_;
}

inline void timer_queue::prefetch_node(const timer_link* n) noexcept {
    // A node that straddles two cache lines needs both.
    const auto at = reinterpret_cast<std::uintptr_t>(n);
    __builtin_prefetch(reinterpret_cast<const void*>(at));
    __builtin_prefetch(reinterpret_cast<const void*>(at + sizeof(timer_node) - 1));
}

template <bool detach, class F>
void timer_queue::walk(const sentinels& lists, std::size_t count, F&& visit) noexcept {
    // Visits every node of the first count lists, side by side so that their cache misses
    // overlap, each list in order; visit(node, list index). With detach, the lists are emptied
    // first and the sentinels only compared against afterwards, so visit() may relink the node
    // anywhere: its successor has been read.
    sentinels at{};
    sentinels end{};
    std::array<std::size_t, lanes> which{};
    std::size_t live = 0;
    for (std::size_t i = 0; i < count; ++i) {
        timer_link* sentinel = lists[i];
        if (sentinel->next_ != sentinel) {
            at[live] = sentinel->next_;
            end[live] = sentinel;
            which[live] = i;
            ++live;
        }
        if constexpr (detach) {
            sentinel->prev_ = sentinel;
            sentinel->next_ = sentinel;
        }
    }
    while (live > 0) {
        for (std::size_t i = 0; i < live;) {
            timer_link* n = at[i];
            at[i] = n->next_;
            // Needed a round later: the other lists' visits hide the miss, however long they
            // are (out-of-order execution alone would overlap only a few).
            prefetch_node(at[i]);
            visit(static_cast<timer_node*>(n), which[i]);
            if (at[i] == end[i]) {
                --live;
                at[i] = at[live];
                end[i] = end[live];
                which[i] = which[live];
            } else {
                ++i;
            }
        }
    }
}

}  // namespace corio::detail
