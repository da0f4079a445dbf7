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

timer_queue::timer_queue(timer_time start) : start_ns_(start.time_since_epoch().count()) {
    sorted_.fill(~std::uint64_t{0});
    for (timer_node& sentinel : slots_) {
        sentinel.prev_ = &sentinel;
        sentinel.next_ = &sentinel;
    }
}

timer_queue::~timer_queue() {
    for (timer_node& sentinel : slots_) {
        for (timer_node* n = sentinel.next_; n != &sentinel;) {
            timer_node* next = n->next_;
            n->prev_ = nullptr;
            n->next_ = nullptr;
            n = next;
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
    // The highest tick digit that differs from elapsed_ picks the level (as in tokio's wheel);
    // or-ing the digit mask puts tick == elapsed_ on level 0.
    const std::uint64_t differs = (tick ^ elapsed_) | (slots_per_level - 1);
    const unsigned level = static_cast<unsigned>(63 - std::countl_zero(differs)) / slot_bits;
    const std::uint64_t digit = (tick >> (level * slot_bits)) & (slots_per_level - 1);
    return level * slots_per_level + static_cast<std::size_t>(digit);
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

void timer_queue::file(timer_node& n) noexcept {
    // A deadline the wheel has already passed goes to the slot of elapsed_, where sorting by the
    // exact deadline puts it first.
    const std::size_t slot = slot_for(std::max(tick_of(n.deadline), elapsed_));
    timer_node& sentinel = slots_[slot];
    timer_node* tail = sentinel.prev_;
    if (tail != &sentinel && n.deadline < tail->deadline) {
        sorted_[slot / slots_per_level] &= ~slot_bit(slot);
    }
    n.prev_ = tail;
    n.next_ = &sentinel;
    tail->next_ = &n;
    sentinel.prev_ = &n;
    occupied_[slot / slots_per_level] |= slot_bit(slot);
}

void timer_queue::mark_empty(std::size_t slot) noexcept {
    occupied_[slot / slots_per_level] &= ~slot_bit(slot);
    sorted_[slot / slots_per_level] |= slot_bit(slot);
    scanned_[slot / slots_per_level] &= ~slot_bit(slot);
}

void timer_queue::unlink(timer_node& n) noexcept {
    timer_node* prev = n.prev_;
    timer_node* next = n.next_;
    prev->next_ = next;
    next->prev_ = prev;
    n.prev_ = nullptr;
    n.next_ = nullptr;
    // In a circular list with a sentinel, both neighbours are the same node only when that node
    // is the sentinel alone: the slot is now empty. Its index comes from the sentinel's address,
    // so nodes need not store their slot.
    if (prev == next) {
        mark_empty(static_cast<std::size_t>(prev - slots_.data()));
    }
    --size_;
    if (&n == min_) {
        min_ = nullptr;
        min_known_ = size_ == 0;
    }
}

void timer_queue::insert(timer_node& n) {
    assert(!n.linked() && n.fire != nullptr);
    file(n);
    ++size_;
    if (min_known_ && (min_ == nullptr || n.deadline < min_->deadline)) {
        min_ = &n;
    }
}

void timer_queue::cancel(timer_node& n) noexcept {
    if (n.linked()) {
        unlink(n);
    }
}

void timer_queue::cascade(std::size_t slot) noexcept {
    // Called once elapsed_ has reached the slot's start: its nodes now differ from elapsed_ only
    // in lower digits. Re-filing in list order keeps equal deadlines in insertion order, and a
    // sorted slot yields sorted lower slots because those were empty.
    timer_node& sentinel = slots_[slot];
    timer_node* n = sentinel.next_;
    sentinel.prev_ = &sentinel;
    sentinel.next_ = &sentinel;
    mark_empty(slot);
    while (n != &sentinel) {
        timer_node* next = n->next_;
        file(*n);
        n = next;
    }
}

timer_node* timer_queue::merge(timer_node* older, timer_node* newer) noexcept {
    timer_node* head = nullptr;
    timer_node** link = &head;
    while (older != nullptr && newer != nullptr) {
        // Ties take the older run first: that is what keeps the sort stable.
        timer_node*& from = newer->deadline < older->deadline ? newer : older;
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
    // Bottom-up merge sort in O(1) space, as libstdc++'s std::list::sort: runs[i] holds 2^i
    // nodes, and a higher run always holds earlier-inserted nodes than a lower one.
    timer_node& sentinel = slots_[slot];
    std::array<timer_node*, 64> runs{};
    std::size_t used = 0;
    sentinel.prev_->next_ = nullptr;
    for (timer_node* n = sentinel.next_; n != nullptr;) {
        timer_node* carry = n;
        n = n->next_;
        carry->next_ = nullptr;
        std::size_t i = 0;
        for (; i < used && runs[i] != nullptr; ++i) {
            carry = merge(runs[i], carry);
            runs[i] = nullptr;
        }
        runs[i] = carry;
        used = std::max(used, i + 1);
    }
    timer_node* sorted = nullptr;
    for (std::size_t i = 0; i < used; ++i) {
        if (runs[i] != nullptr) {
            sorted = sorted == nullptr ? runs[i] : merge(runs[i], sorted);
        }
    }
    timer_node* prev = &sentinel;
    for (timer_node* n = sorted; n != nullptr; n = n->next_) {
        prev->next_ = n;
        n->prev_ = prev;
        prev = n;
    }
    prev->next_ = &sentinel;
    sentinel.prev_ = prev;
    sorted_[slot / slots_per_level] |= slot_bit(slot);
}

timer_node* timer_queue::find_min() const noexcept {
    // The earliest slot holds the earliest node (see elapsed_).
    const std::size_t slot = earliest_slot();
    if (slot == no_slot) {
        return nullptr;
    }
    // A slot above level 0 may hold many timers (a level-2 slot spans 4.3 s of a server's
    // timeouts), and expire() will cascade it in one pass anyway: find its minimum in one pass
    // too, not by sorting in log k passes (BM_timer_expire_rearm/1000000: ~450 ns a timer, and
    // ~960 ns when these slots were sorted). If the minimum is asked for again, the first one was
    // cancelled: then sort, so that cancelling the earliest timer over and over costs O(1) each
    // time rather than a scan.
    const std::size_t level = slot / slots_per_level;
    const std::uint64_t bit = slot_bit(slot);
    timer_node& sentinel = slots_[slot];
    if (level > 0 && ((sorted_[level] | scanned_[level]) & bit) == 0) {
        scanned_[level] |= bit;
        timer_node* min = sentinel.next_;
        for (timer_node* n = min->next_; n != &sentinel; n = n->next_) {
            if (n->deadline < min->deadline) {
                min = n;
            }
        }
        return min;
    }
    ensure_sorted(slot);
    return sentinel.next_;
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
        timer_node& first = *slots_[slot].next_;
        if (now < first.deadline) {
            break;
        }
        unlink(first);
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
