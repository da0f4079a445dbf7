// SPDX-License-Identifier: MIT
// The far wheel behind timer_queue, for deadlines past the near wheel's span: a hierarchical
// wheel filed by tick, cascaded level by level and pulled into the near wheel as its span moves;
// and the stable list sort both wheels use.
#include <corio/detail/timer_queue.hpp>

#include "timer_queue_walk.hpp"

#include <algorithm>
#include <bit>

namespace corio::detail {
namespace {

constexpr std::uint64_t slot_bit(std::size_t slot) noexcept {
    return std::uint64_t{1} << (slot % 64);
}

}  // namespace

std::size_t timer_queue::lane_of(timer_time deadline) noexcept {
    // Fibonacci hashing: the top bits of the product depend on every bit of the deadline, so
    // deadlines that differ only in their low or high bits still spread over the lanes.
    const auto ns = static_cast<std::uint64_t>(deadline.time_since_epoch().count());
    return static_cast<std::size_t>((ns * 0x9E3779B97F4A7C15u) >> (64 - std::countr_zero(lanes)));
}

timer_link* timer_queue::merge(timer_link* older, timer_link* newer) noexcept {
    timer_link* head = nullptr;
    timer_link** link = &head;
    while (older != nullptr && newer != nullptr) {
        // Ties take the older run first: that is what keeps the sort stable.
        timer_link*& from = static_cast<timer_node*>(newer)->deadline <
                                    static_cast<timer_node*>(older)->deadline
                                ? newer
                                : older;
        *link = from;
        link = &from->next_;
        from = from->next_;
    }
    *link = older != nullptr ? older : newer;
    return head;
}

void timer_queue::push_run(sort_runs& s, timer_link* n) noexcept {
    // Bottom-up merge sort in O(1) space, as libstdc++'s std::list::sort: runs[i] holds 2^i
    // nodes, and a higher run always holds earlier-pushed nodes than a lower one. It is stable:
    // nodes pushed in insertion order come out in (deadline, insertion) order.
    timer_link* carry = n;
    carry->next_ = nullptr;
    std::size_t i = 0;
    for (; i < s.used && s.runs[i] != nullptr; ++i) {
        carry = merge(s.runs[i], carry);
        s.runs[i] = nullptr;
    }
    s.runs[i] = carry;
    s.used = std::max(s.used, i + 1);
}

void timer_queue::relink(timer_link& sentinel, sort_runs& s) noexcept {
    timer_link* sorted = nullptr;
    for (std::size_t i = 0; i < s.used; ++i) {
        if (s.runs[i] != nullptr) {
            sorted = sorted == nullptr ? s.runs[i] : merge(s.runs[i], sorted);
        }
    }
    timer_link* last = &sentinel;
    for (timer_link* n = sorted; n != nullptr; n = n->next_) {
        last->next_ = n;
        n->prev_ = last;
        last = n;
    }
    last->next_ = &sentinel;
    sentinel.prev_ = last;
}

void timer_queue::sort_lists(const sentinels& lists, std::size_t count) noexcept {
    // Keys are gathered into a contiguous buffer and sorted there, so the comparisons do not
    // chase nodes; (list, deadline, position) keys make it stable. Lists too long for the buffer
    // are merge sorted instead.
    struct entry {
        timer_time deadline;
        timer_link* node;
        std::uint32_t list;
        std::uint32_t position;
    };
    constexpr std::size_t capacity = 1024;
    std::array<entry, capacity> buffer;
    std::size_t used = 0;
    std::array<sort_runs, lanes> runs;
    bool overflow = false;
    walk<true>(lists, count, [&](timer_node* n, std::size_t list) {
        if (!overflow && used == capacity) {
            overflow = true;
            for (std::size_t i = 0; i < used; ++i) {
                push_run(runs[buffer[i].list], buffer[i].node);
            }
        }
        if (overflow) {
            push_run(runs[list], n);
        } else {
            buffer[used] = {n->deadline, n, static_cast<std::uint32_t>(list),
                            static_cast<std::uint32_t>(used)};
            ++used;
        }
    });
    if (overflow) {
        for (std::size_t i = 0; i < count; ++i) {
            relink(*lists[i], runs[i]);
        }
        return;
    }
    std::sort(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(used),
              [](const entry& a, const entry& b) {
                  if (a.list != b.list) {
                      return a.list < b.list;
                  }
                  if (a.deadline != b.deadline) {
                      return a.deadline < b.deadline;
                  }
                  return a.position < b.position;
              });
    std::size_t i = 0;
    for (std::size_t list = 0; list < count; ++list) {
        timer_link& sentinel = *lists[list];
        timer_link* last = &sentinel;
        for (; i < used && buffer[i].list == list; ++i) {
            last->next_ = buffer[i].node;
            buffer[i].node->prev_ = last;
            last = buffer[i].node;
        }
        last->next_ = &sentinel;
        sentinel.prev_ = last;
    }
}

std::size_t timer_queue::far_slot_for(std::uint64_t tick) const noexcept {
    // The highest tick digit that differs from far_elapsed_ picks the level (as in tokio's
    // wheel); or-ing the digit mask puts far_elapsed_ itself on level 0.
    tick = std::max(tick, far_elapsed_);
    const std::uint64_t differs = (tick ^ far_elapsed_) | (slots_per_level - 1);
    const unsigned level = static_cast<unsigned>(63 - std::countl_zero(differs)) / slot_bits;
    const std::uint64_t digit = (tick >> (level * slot_bits)) & (slots_per_level - 1);
    return level * slots_per_level + static_cast<std::size_t>(digit);
}

std::uint64_t timer_queue::far_slot_start(std::size_t slot) const noexcept {
    const unsigned shift = static_cast<unsigned>(slot / slots_per_level) * slot_bits;
    const std::uint64_t digit = slot % slots_per_level;
    const std::uint64_t above = ~((std::uint64_t{1} << (shift + slot_bits)) - 1);
    return (far_elapsed_ & above) | (digit << shift);
}

std::size_t timer_queue::far_earliest() const noexcept {
    for (std::size_t level = 0; level < level_count; ++level) {
        if (occupied_[level] != 0) {
            return level * slots_per_level +
                   static_cast<std::size_t>(std::countr_zero(occupied_[level]));
        }
    }
    return no_slot;
}

timer_queue::sentinels timer_queue::far_lanes(std::size_t slot) const noexcept {
    sentinels lists{};
    for (std::size_t lane = 0; lane < lanes; ++lane) {
        lists[lane] = &heads_[slot * lanes + lane];
    }
    return lists;
}

void timer_queue::file_far(timer_node& n, std::size_t slot, bool spread) noexcept {
    const std::size_t level = slot / slots_per_level;
    const std::uint64_t bit = slot_bit(slot);
    timer_link* sentinel = &heads_[slot * lanes];
    if (count_[slot] == 0) {
        if (spread) {
            spread_[level] |= bit;
            sorted_[level] &= ~bit;
        }
        slot_min_[slot] = &n;
        slot_min_deadline_[slot] = n.deadline;
        occupied_[level] |= bit;
    } else {
        // Appending keeps the order unless n is earlier than the last node: ties stay sorted.
        if ((sorted_[level] & bit) != 0 &&
            n.deadline < static_cast<timer_node*>(sentinel->prev_)->deadline) {
            sorted_[level] &= ~bit;
        }
        if (slot_min_[slot] != nullptr && n.deadline < slot_min_deadline_[slot]) {
            slot_min_[slot] = &n;
            slot_min_deadline_[slot] = n.deadline;
        }
    }
    if ((spread_[level] & bit) != 0) {
        sentinel += lane_of(n.deadline);
    }
    ++count_[slot];
    append(*sentinel, n);
}

void timer_queue::far_mark_empty(std::size_t slot) const noexcept {
    // occupied_ is not mutable: only callers that change membership clear it.
    sorted_[slot / slots_per_level] |= slot_bit(slot);
    spread_[slot / slots_per_level] &= ~slot_bit(slot);
    scanned_[slot / slots_per_level] &= ~slot_bit(slot);
    slot_min_[slot] = nullptr;
    count_[slot] = 0;
}

void timer_queue::unlink_far(timer_node& n, std::size_t slot) noexcept {
    unlink_links(n);
    if (--count_[slot] == 0) {
        occupied_[slot / slots_per_level] &= ~slot_bit(slot);
        far_mark_empty(slot);
    } else if (slot_min_[slot] == &n) {
        slot_min_[slot] = nullptr;
    }
}

void timer_queue::cascade(std::size_t slot) noexcept {
    // Called once far_elapsed_ has reached the slot's start: its nodes now differ from it only
    // in lower digits. Each lane is walked in order and equal deadlines share a lane, so ties
    // keep insertion order; a slot that was not spread is one list, so lower slots stay sorted.
    const bool spread = (spread_[slot / slots_per_level] & slot_bit(slot)) != 0;
    occupied_[slot / slots_per_level] &= ~slot_bit(slot);
    far_mark_empty(slot);
    walk<true>(far_lanes(slot), lanes, [this, spread](timer_node* n, std::size_t) {
        file_far(*n, far_slot_for(tick_of(n->deadline)), spread);
    });
}

void timer_queue::pull(std::uint64_t limit) noexcept {
    // Moves every far node with a tick below limit into the near wheel, cascading the far slots
    // that start below it on the way; far_elapsed_ follows, never past an occupied slot's start.
    for (;;) {
        const std::size_t slot = far_earliest();
        if (slot == no_slot || far_slot_start(slot) >= limit) {
            break;
        }
        far_elapsed_ = far_slot_start(slot);
        if (slot >= slots_per_level) {
            cascade(slot);
            continue;
        }
        // A level-0 far slot holds one tick. Its lanes keep ties in order, as above.
        occupied_[0] &= ~slot_bit(slot);
        far_mark_empty(slot);
        const std::size_t near = static_cast<std::size_t>(far_elapsed_) & near_mask;
        walk<true>(far_lanes(slot), lanes,
                   [this, near](timer_node* n, std::size_t) { file_near(*n, near); });
    }
    far_elapsed_ = limit;
}

void timer_queue::far_sort(std::size_t slot) const noexcept {
    timer_link& sentinel = heads_[slot * lanes];
    if (count_[slot] == 1 && slot_min_[slot] != nullptr) {
        // One node, the common case with few timers: move it to lane 0 without a walk.
        timer_node& n = *slot_min_[slot];
        unlink_links(n);
        n.prev_ = &sentinel;
        n.next_ = &sentinel;
        sentinel.prev_ = &n;
        sentinel.next_ = &n;
    } else {
        // All lanes into one: the walk visits equal deadlines (one lane) in insertion order.
        sort_runs runs;
        walk<true>(far_lanes(slot), lanes, [&](timer_node* n, std::size_t) { push_run(runs, n); });
        relink(sentinel, runs);
    }
    sorted_[slot / slots_per_level] |= slot_bit(slot);
    spread_[slot / slots_per_level] &= ~slot_bit(slot);
}

timer_node* timer_queue::far_min() const noexcept {
    // The earliest slot holds the earliest node (see far_elapsed_), and usually knows which.
    const std::size_t slot = far_earliest();
    if (slot == no_slot) {
        return nullptr;
    }
    const std::size_t level = slot / slots_per_level;
    const std::uint64_t bit = slot_bit(slot);
    timer_link& lane0 = heads_[slot * lanes];
    if ((sorted_[level] & bit) != 0) {
        return static_cast<timer_node*>(lane0.next_);
    }
    if (slot_min_[slot] != nullptr) {
        return slot_min_[slot];
    }
    // The minimum was cancelled. A slot above level 0 may hold many timers (a level-2 slot spans
    // 8.6 s of a server's timeouts), and pull() will cascade it in one pass anyway: find the
    // minimum in one pass too. If it is cancelled again, sort, so that cancelling the earliest
    // timer over and over costs O(1) each time rather than a scan.
    if (level > 0 && (scanned_[level] & bit) == 0) {
        scanned_[level] |= bit;
        timer_node* min = nullptr;
        walk<false>(far_lanes(slot), lanes, [&](timer_node* n, std::size_t) {
            if (min == nullptr || n->deadline < min->deadline) {
                min = n;
            }
        });
        slot_min_[slot] = min;
        slot_min_deadline_[slot] = min->deadline;
        return min;
    }
    far_sort(slot);
    return static_cast<timer_node*>(lane0.next_);
}

}  // namespace corio::detail
