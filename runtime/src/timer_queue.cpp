// SPDX-License-Identifier: MIT
// The timing wheel behind timer_queue: filing by tick, cascading, lazy slot sorting, expiry.
#include <corio/detail/timer_queue.hpp>

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

timer_queue::timer_queue(timer_time start) : start_ns_(start.time_since_epoch().count()) {
    sorted_.fill(~std::uint64_t{0});
    for (timer_link& sentinel : heads_) {
        sentinel.prev_ = &sentinel;
        sentinel.next_ = &sentinel;
    }
}

timer_queue::~timer_queue() {
    for (std::size_t level = 0; level < level_count; ++level) {
        for (std::uint64_t bits = occupied_[level]; bits != 0; bits &= bits - 1) {
            walk<true>(level * slots_per_level + static_cast<std::size_t>(std::countr_zero(bits)),
                       [](timer_node* n) {
                           n->prev_ = nullptr;
                           n->next_ = nullptr;
                       });
        }
    }
}

std::uint64_t timer_queue::tick_of(timer_time t) const noexcept {
    const std::int64_t ns = t.time_since_epoch().count();
    if (ns <= start_ns_) {
        return 0;
    }
    // Unsigned subtraction: the difference of two int64_t always fits in a uint64_t.
    return (static_cast<std::uint64_t>(ns) - static_cast<std::uint64_t>(start_ns_)) >> tick_shift;
}

std::size_t timer_queue::slot_for(std::uint64_t tick) const noexcept {
    // A deadline the wheel has already passed goes to the slot of elapsed_, where sorting by the
    // exact deadline puts it first. Otherwise the highest tick digit that differs from elapsed_
    // picks the level (as in tokio's wheel); or-ing the digit mask puts elapsed_ on level 0.
    tick = std::max(tick, elapsed_);
    const std::uint64_t differs = (tick ^ elapsed_) | (slots_per_level - 1);
    const unsigned level = static_cast<unsigned>(63 - std::countl_zero(differs)) / slot_bits;
    const std::uint64_t digit = (tick >> (level * slot_bits)) & (slots_per_level - 1);
    return level * slots_per_level + static_cast<std::size_t>(digit);
}

std::size_t timer_queue::slot_of(const timer_node& n) const noexcept {
    // By elapsed_'s invariant, filing a pending node again would pick the slot it is in.
    return slot_for(tick_of(n.deadline));
}

std::uint64_t timer_queue::slot_start(std::size_t slot) const noexcept {
    const unsigned shift = static_cast<unsigned>(slot / slots_per_level) * slot_bits;
    const std::uint64_t digit = slot % slots_per_level;
    const std::uint64_t above = ~((std::uint64_t{1} << (shift + slot_bits)) - 1);
    return (elapsed_ & above) | (digit << shift);
}

std::size_t timer_queue::earliest_slot() const noexcept {
    for (std::size_t level = 0; level < level_count; ++level) {
        if (occupied_[level] != 0) {
            return level * slots_per_level +
                   static_cast<std::size_t>(std::countr_zero(occupied_[level]));
        }
    }
    return no_slot;
}

template <bool detach, class F>
void timer_queue::walk(std::size_t slot, F&& visit) const noexcept {
    // Visits every node of the slot, lanes side by side so that their cache misses overlap, each
    // lane in order. With detach, the slot's lanes are emptied first and the sentinels only
    // compared against afterwards, so visit() may relink the node anywhere: its successor has
    // been read.
    timer_link* const first = &heads_[slot * lanes];
    std::array<timer_link*, lanes> at{};
    std::size_t live = 0;
    for (std::size_t lane = 0; lane < lanes; ++lane) {
        timer_link& sentinel = first[lane];
        if (sentinel.next_ != &sentinel) {
            at[live] = sentinel.next_;
            // Each lane's end is marked by its sentinel's address, which stays fixed.
            ++live;
        }
        if constexpr (detach) {
            sentinel.prev_ = &sentinel;
            sentinel.next_ = &sentinel;
        }
    }
    const auto is_sentinel = [first](const timer_link* l) {
        return l >= first && l < first + lanes;
    };
    while (live > 0) {
        for (std::size_t i = 0; i < live;) {
            timer_link* n = at[i];
            at[i] = n->next_;
            // Needed a round later: the other lanes' visits hide the miss, however long they
            // are (out-of-order execution alone would overlap only a few). A node that
            // straddles two cache lines (a quarter of those at 16-byte aligned addresses, as
            // in coroutine frames) needs both, or its next_ or deadline is a miss of its own.
            const auto next = reinterpret_cast<std::uintptr_t>(at[i]);
            __builtin_prefetch(reinterpret_cast<const void*>(next));
            __builtin_prefetch(reinterpret_cast<const void*>(next + sizeof(timer_node) - 1));
            visit(static_cast<timer_node*>(n));
            if (is_sentinel(at[i])) {
                at[i] = at[--live];
            } else {
                ++i;
            }
        }
    }
}

void timer_queue::file(timer_node& n, std::size_t slot, bool spread) noexcept {
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
    timer_link* tail = sentinel->prev_;
    n.prev_ = tail;
    n.next_ = sentinel;
    tail->next_ = &n;
    sentinel->prev_ = &n;
}

void timer_queue::mark_empty(std::size_t slot) const noexcept {
    // occupied_ is not mutable: only callers that change membership clear it.
    sorted_[slot / slots_per_level] |= slot_bit(slot);
    spread_[slot / slots_per_level] &= ~slot_bit(slot);
    scanned_[slot / slots_per_level] &= ~slot_bit(slot);
    slot_min_[slot] = nullptr;
    count_[slot] = 0;
}

void timer_queue::unlink(timer_node& n, std::size_t slot) noexcept {
    timer_link* prev = n.prev_;
    timer_link* next = n.next_;
    prev->next_ = next;
    next->prev_ = prev;
    n.prev_ = nullptr;
    n.next_ = nullptr;
    if (--count_[slot] == 0) {
        occupied_[slot / slots_per_level] &= ~slot_bit(slot);
        mark_empty(slot);
    } else if (slot_min_[slot] == &n) {
        slot_min_[slot] = nullptr;
    }
    --size_;
    if (&n == min_) {
        min_ = nullptr;
        min_known_ = size_ == 0;
    }
}

void timer_queue::insert(timer_node& n) {
    assert(!n.linked() && n.fire != nullptr);
    // Above level 0 a slot is only cascaded (or scanned), which its lanes speed up; a level-0
    // slot is sorted when due, and a timer filed there in order needs no sort.
    const std::size_t slot = slot_of(n);
    file(n, slot, slot >= slots_per_level);
    ++size_;
    if (min_known_ && (min_ == nullptr || n.deadline < min_->deadline)) {
        min_ = &n;
    }
}

void timer_queue::cancel(timer_node& n) noexcept {
    if (n.linked()) {
        unlink(n, slot_of(n));
    }
}

void timer_queue::cascade(std::size_t slot) noexcept {
    // Called once elapsed_ has reached the slot's start: its nodes now differ from elapsed_ only
    // in lower digits. Each lane is walked in order and equal deadlines share a lane, so ties
    // keep insertion order; a slot that was not spread is one list, so lower slots stay sorted.
    const bool spread = (spread_[slot / slots_per_level] & slot_bit(slot)) != 0;
    occupied_[slot / slots_per_level] &= ~slot_bit(slot);
    mark_empty(slot);
    walk<true>(slot, [this, spread](timer_node* n) { file(*n, slot_of(*n), spread); });
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

void timer_queue::ensure_sorted(std::size_t slot) const noexcept {
    if ((sorted_[slot / slots_per_level] & slot_bit(slot)) != 0) {
        return;
    }
    timer_link& sentinel = heads_[slot * lanes];
    if (count_[slot] == 1 && slot_min_[slot] != nullptr) {
        // One node, the common case with few timers: move it to lane 0 without a walk.
        timer_node& n = *slot_min_[slot];
        n.prev_->next_ = n.next_;
        n.next_->prev_ = n.prev_;
        n.prev_ = &sentinel;
        n.next_ = &sentinel;
        sentinel.prev_ = &n;
        sentinel.next_ = &n;
        sorted_[slot / slots_per_level] |= slot_bit(slot);
        spread_[slot / slots_per_level] &= ~slot_bit(slot);
        return;
    }
    // Bottom-up merge sort in O(1) space, as libstdc++'s std::list::sort: runs[i] holds 2^i
    // nodes, and a higher run always holds earlier-visited nodes than a lower one. It is stable,
    // and the walk visits equal deadlines (one lane) in insertion order.
    std::array<timer_link*, 64> runs{};
    std::size_t used = 0;
    walk<true>(slot, [&](timer_node* n) {
        timer_link* carry = n;
        carry->next_ = nullptr;
        std::size_t i = 0;
        for (; i < used && runs[i] != nullptr; ++i) {
            carry = merge(runs[i], carry);
            runs[i] = nullptr;
        }
        runs[i] = carry;
        used = std::max(used, i + 1);
    });
    timer_link* sorted = nullptr;
    for (std::size_t i = 0; i < used; ++i) {
        if (runs[i] != nullptr) {
            sorted = sorted == nullptr ? runs[i] : merge(runs[i], sorted);
        }
    }
    timer_link* prev = &sentinel;
    for (timer_link* n = sorted; n != nullptr; n = n->next_) {
        prev->next_ = n;
        n->prev_ = prev;
        prev = n;
    }
    prev->next_ = &sentinel;
    sentinel.prev_ = prev;
    sorted_[slot / slots_per_level] |= slot_bit(slot);
    spread_[slot / slots_per_level] &= ~slot_bit(slot);
}

timer_node* timer_queue::find_min() const noexcept {
    // The earliest slot holds the earliest node (see elapsed_), and usually knows which.
    const std::size_t slot = earliest_slot();
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
    // 4.3 s of a server's timeouts), and expire() will cascade it in one pass anyway: find the
    // minimum in one pass too. If it is cancelled again, sort, so that cancelling the earliest
    // timer over and over costs O(1) each time rather than a scan.
    if (level > 0 && (scanned_[level] & bit) == 0) {
        scanned_[level] |= bit;
        timer_node* min = nullptr;
        walk<false>(slot, [&](timer_node* n) {
            if (min == nullptr || n->deadline < min->deadline) {
                min = n;
            }
        });
        slot_min_[slot] = min;
        slot_min_deadline_[slot] = min->deadline;
        return min;
    }
    ensure_sorted(slot);
    return static_cast<timer_node*>(lane0.next_);
}

std::optional<timer_time> timer_queue::next_deadline() const {
    if (!min_known_) {
        min_ = find_min();
        min_known_ = true;
    }
    if (min_ == nullptr) {
        return std::nullopt;
    }
    return min_->deadline;
}

std::size_t timer_queue::expire(timer_time now) {
    assert(!expiring_ && "timer_queue::expire is not reentrant");
    expiring_ = true;
    const std::uint64_t now_tick = tick_of(now);
    std::size_t fired = 0;
    // Each round looks at the earliest slot afresh, because a fire callback may have inserted
    // or cancelled anything, this slot's nodes included.
    for (;;) {
        const std::size_t slot = earliest_slot();
        if (slot == no_slot) {
            break;
        }
        const std::uint64_t start = slot_start(slot);
        if (slot >= slots_per_level) {
            if (start > now_tick) {
                break;
            }
            elapsed_ = start;
            cascade(slot);
            continue;
        }
        // Level 0 shares elapsed_'s 64-tick block, so it can be drained without moving elapsed_.
        // A later slot that starts after now_tick holds nothing due: stop before paying for a
        // sort. elapsed_'s own slot is always checked, as it holds the deadlines that were past
        // when inserted, which are then due whatever now_tick is.
        if (start > std::max(now_tick, elapsed_)) {
            break;
        }
        ensure_sorted(slot);
        timer_node& first = *static_cast<timer_node*>(heads_[slot * lanes].next_);
        if (now < first.deadline) {
            break;
        }
        unlink(first, slot);
        ++fired;
        first.fire(&first);  // last use of first: the callback may free it
    }
    // Bringing elapsed_ up to now keeps later inserts on low levels, so they cascade less. It
    // must not pass an occupied slot's start, and does not: the loop stops only at a slot that
    // starts after now_tick, or at a level-0 slot whose first node is due after now; that node is
    // not one filed late, so its tick, the slot's start, is then at least now_tick.
    elapsed_ = std::max(elapsed_, now_tick);
    expiring_ = false;
    return fired;
}

}  // namespace corio::detail
