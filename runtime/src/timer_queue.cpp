// SPDX-License-Identifier: MIT
// The near wheel behind timer_queue: filing by tick, lazy sorting of due slots, expiry, and the
// hand-over of far timers as the near wheel's span moves over them. The far wheel is in
// timer_queue_far.cpp.
#include <corio/detail/timer_queue.hpp>

#include "timer_queue_walk.hpp"

#include <algorithm>
#include <bit>

namespace corio::detail {

timer_queue::timer_queue(timer_time start) : start_ns_(start.time_since_epoch().count()) {
    sorted_.fill(~std::uint64_t{0});
    near_sorted_.fill(~std::uint64_t{0});
    for (timer_link& sentinel : near_heads_) {
        sentinel.prev_ = &sentinel;
        sentinel.next_ = &sentinel;
    }
    for (timer_link& sentinel : heads_) {
        sentinel.prev_ = &sentinel;
        sentinel.next_ = &sentinel;
    }
}

timer_queue::~timer_queue() {
    const auto forget_links = [](timer_node* n, std::size_t) {
        n->prev_ = nullptr;
        n->next_ = nullptr;
    };
    // Up to `lanes` near slots at a time, so that their misses overlap.
    sentinels lists{};
    std::size_t count = 0;
    for (std::size_t word = 0; word < near_words; ++word) {
        for (std::uint64_t bits = near_occupied_[word]; bits != 0; bits &= bits - 1) {
            lists[count++] = &near_heads_[word * 64 + static_cast<std::size_t>(std::countr_zero(bits))];
            if (count == lanes) {
                walk<true>(lists, count, forget_links);
                count = 0;
            }
        }
    }
    walk<true>(lists, count, forget_links);
    for (std::size_t level = 0; level < level_count; ++level) {
        for (std::uint64_t bits = occupied_[level]; bits != 0; bits &= bits - 1) {
            walk<true>(far_lanes(level * slots_per_level +
                                 static_cast<std::size_t>(std::countr_zero(bits))),
                       lanes, forget_links);
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

std::size_t timer_queue::near_slot_of(std::uint64_t tick) const noexcept {
    // A deadline the wheel has already passed goes to the slot of elapsed_, where sorting by the
    // exact deadline puts it first.
    return static_cast<std::size_t>(std::max(tick, elapsed_)) & near_mask;
}

void timer_queue::file(timer_node& n) noexcept {
    const std::uint64_t tick = tick_of(n.deadline);
    if (tick < elapsed_ + near_slots) {
        file_near(n, near_slot_of(tick));
    } else {
        // Lanes make the far slot's later moves walk several lists at once.
        file_far(n, far_slot_for(tick), true);
    }
}

void timer_queue::file_near(timer_node& n, std::size_t slot) noexcept {
    timer_link& sentinel = near_heads_[slot];
    const std::size_t word = slot / 64;
    const std::uint64_t bit = std::uint64_t{1} << (slot % 64);
    if ((near_occupied_[word] & bit) == 0) {
        // An empty slot is marked sorted, and one node stays so.
        near_occupied_[word] |= bit;
        near_summary_[word / 64] |= std::uint64_t{1} << (word % 64);
    } else if ((near_sorted_[word] & bit) != 0 &&
               n.deadline < static_cast<timer_node*>(sentinel.prev_)->deadline) {
        // Appending keeps the order unless n is earlier than the last node: ties stay sorted.
        near_sorted_[word] &= ~bit;
    }
    append(sentinel, n);
}

void timer_queue::insert(timer_node& n) {
    assert(!n.linked() && n.fire != nullptr);
    file(n);
    ++size_;
    if (min_known_ && (min_ == nullptr || n.deadline < min_->deadline)) {
        min_ = &n;
    }
}

void timer_queue::forget(timer_node& n) noexcept {
    n.prev_ = nullptr;
    n.next_ = nullptr;
    --size_;
    if (&n == min_) {
        min_ = nullptr;
        min_known_ = size_ == 0;
    }
}

void timer_queue::cancel(timer_node& n) noexcept {
    if (!n.linked()) {
        return;
    }
    const std::uint64_t tick = tick_of(n.deadline);
    if (tick < elapsed_ + near_slots) {
        unlink_near(n, near_slot_of(tick));
    } else {
        unlink_far(n, far_slot_for(tick));
    }
    forget(n);
}

void timer_queue::unlink_near(timer_node& n, std::size_t slot) noexcept {
    unlink_links(n);
    timer_link& sentinel = near_heads_[slot];
    if (sentinel.next_ == &sentinel) {
        const std::size_t word = slot / 64;
        const std::uint64_t bit = std::uint64_t{1} << (slot % 64);
        near_occupied_[word] &= ~bit;
        near_sorted_[word] |= bit;
        if (near_occupied_[word] == 0) {
            near_summary_[word / 64] &= ~(std::uint64_t{1} << (word % 64));
        }
    }
}

std::size_t timer_queue::near_first() const noexcept {
    // The slots in tick order run from elapsed_'s slot to the end of the array, then wrap
    // around to it; the bits of elapsed_'s word below it come last.
    const std::size_t from = static_cast<std::size_t>(elapsed_) & near_mask;
    const std::size_t word = from / 64;
    const std::uint64_t here = near_occupied_[word] & (~std::uint64_t{0} << (from % 64));
    if (here != 0) {
        return word * 64 + static_cast<std::size_t>(std::countr_zero(here));
    }
    for (std::size_t first_word : {word + 1, std::size_t{0}}) {
        for (std::size_t s = first_word / 64; s < near_summary_.size(); ++s) {
            std::uint64_t words = near_summary_[s];
            if (s == first_word / 64) {
                words &= ~std::uint64_t{0} << (first_word % 64);
            }
            if (words != 0) {
                const std::size_t w = s * 64 + static_cast<std::size_t>(std::countr_zero(words));
                return w * 64 + static_cast<std::size_t>(std::countr_zero(near_occupied_[w]));
            }
        }
    }
    return no_slot;
}

void timer_queue::sort_near(std::size_t slot) const noexcept {
    // The next few unsorted slots are sorted along with this one: walking their lists side by
    // side overlaps their cache misses, and they are due soon anyway.
    sentinels lists{&near_heads_[slot]};
    std::size_t count = 1;
    near_sorted_[slot / 64] |= std::uint64_t{1} << (slot % 64);
    for (std::size_t step = 1; step < near_group; ++step) {
        const std::size_t s = (slot + step) & near_mask;
        const std::uint64_t bit = std::uint64_t{1} << (s % 64);
        if ((near_occupied_[s / 64] & ~near_sorted_[s / 64] & bit) != 0) {
            near_sorted_[s / 64] |= bit;
            lists[count++] = &near_heads_[s];
        }
    }
    sort_lists(lists, count);
}

timer_node* timer_queue::find_min() const noexcept {
    // Every near node is earlier than every far one.
    const std::size_t slot = near_first();
    if (slot == no_slot) {
        return far_min();
    }
    if ((near_sorted_[slot / 64] & (std::uint64_t{1} << (slot % 64))) == 0) {
        sort_near(slot);
    }
    return static_cast<timer_node*>(near_heads_[slot].next_);
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

void timer_queue::advance(std::uint64_t tick) noexcept {
    // Callers never move elapsed_ past an occupied near slot, so every near slot keeps its
    // tick; the far timers that the new span covers move in.
    if (tick != elapsed_) {
        elapsed_ = tick;
        pull(tick + near_slots);
    }
}

std::size_t timer_queue::expire(timer_time now) {
    assert(!expiring_ && "timer_queue::expire is not reentrant");
    expiring_ = true;
    const std::uint64_t now_tick = tick_of(now);
    std::size_t fired = 0;
    // Each round looks at the earliest slot afresh, because a fire callback may have inserted
    // or cancelled anything, this slot's nodes included.
    for (;;) {
        const std::size_t slot = near_first();
        if (slot == no_slot) {
            // Every near slot is empty: move the near span up to the earliest far slot, if due.
            const std::size_t far = far_earliest();
            if (far == no_slot || far_slot_start(far) > now_tick) {
                break;
            }
            advance(far_slot_start(far));
            continue;
        }
        const std::uint64_t tick =
            elapsed_ + ((slot - (static_cast<std::size_t>(elapsed_) & near_mask)) & near_mask);
        // elapsed_'s own slot is always checked, as it holds the deadlines that were past when
        // inserted, which are then due whatever now_tick is. A later slot that starts after
        // now_tick holds nothing due, and the far wheel holds only later ticks.
        if (tick > std::max(now_tick, elapsed_)) {
            break;
        }
        advance(tick);
        if ((near_sorted_[slot / 64] & (std::uint64_t{1} << (slot % 64))) == 0) {
            sort_near(slot);
        }
        timer_node& first = *static_cast<timer_node*>(near_heads_[slot].next_);
        if (now < first.deadline) {
            break;
        }
        // The next timer to fire was sorted a while ago and may have left the cache since: start
        // loading it now, so the fire callback's work hides the miss.
        prefetch_node(first.next_);
        unlink_near(first, slot);
        forget(first);
        ++fired;
        first.fire(&first);  // last use of first: the callback may free it
    }
    // Bringing elapsed_ up to now keeps later inserts in the near wheel. It must not pass an
    // occupied near slot, and does not: the loop stops only at a slot after now_tick, or at a
    // slot whose first node is due after now; that node is not one filed late, so its tick, the
    // slot's, is then at least now_tick. The far timers it pulls in are due after now: they
    // were not in the span, which held a slot after now_tick or was empty with nothing due.
    advance(std::max(elapsed_, now_tick));
    expiring_ = false;
    return fired;
}

}  // namespace corio::detail
