// SPDX-License-Identifier: MIT
// timer_queue: the runtime's pending timers, in a hierarchical timing wheel with exact deadlines.
#pragma once

#include <array>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ratio>
#include <type_traits>

namespace corio::detail {

using timer_time = std::chrono::steady_clock::time_point;

class timer_queue;

/// A link of the circular slot lists: the base of every timer_node and the type of the lists'
/// sentinels, which need no deadline. Copying yields an unlinked link.
class timer_link {
public:
    timer_link() = default;
    timer_link(const timer_link&) noexcept {}
    timer_link& operator=(const timer_link&) noexcept { return *this; }

private:
    friend class timer_queue;
    friend struct timer_node;
    // Both are null exactly when a node is in no queue.
    timer_link* prev_ = nullptr;
    timer_link* next_ = nullptr;
};

/// A pending timer, embedded in whoever waits (a coroutine frame): the queue never allocates per
/// timer. While linked() its address and deadline must not change; a copy is never linked.
struct timer_node : timer_link {
    timer_time deadline{};
    void (*fire)(timer_node*) = nullptr;  // called by expire() once the node is unlinked

    timer_node() = default;
    // Copying a linked node must not copy its links, or two nodes would claim one list position.
    timer_node(const timer_node& other) noexcept
        : timer_link(), deadline(other.deadline), fire(other.fire) {}
    timer_node& operator=(const timer_node& other) noexcept {
        assert(!linked() && "a pending timer's deadline may not change");
        deadline = other.deadline;
        fire = other.fire;
        return *this;
    }

    bool linked() const noexcept { return next_ != nullptr; }
};

/// Pending timers in deadline order: a hierarchical timing wheel holding exact deadlines.
/// One thread only; insert and cancel are O(1) and never allocate; expire is O(fired + cascaded
/// + k log k for each level-0 slot of k timers it sorts). Each slot is several lists walked side
/// by side, so with a million timers out of cache a cascade or sort waits for several misses at
/// once instead of one after another (BM_timer_expire_rearm). The wheel itself is ~80 KiB.
class timer_queue {
public:
    /// Ticks count from start; any deadline is accepted, before start too.
    explicit timer_queue(timer_time start = {});
    /// Unlinks every node still pending (O(size)), so none is left pointing into a dead queue;
    /// those nodes must therefore still be alive.
    ~timer_queue();
    timer_queue(const timer_queue&) = delete;
    timer_queue& operator=(const timer_queue&) = delete;

    /// Adds n, which must not be linked, must have a fire callback, and must stay alive and in
    /// place until it fires or is cancelled. A deadline at or before the now of an earlier
    /// expire() fires at the next expire(). O(1); cannot fail.
    void insert(timer_node& n);

    /// Removes n, which must be pending in this queue or not linked at all; does nothing in the
    /// second case (already fired, cancelled, or never inserted). O(1).
    void cancel(timer_node& n) noexcept;

    /// Returns the earliest pending deadline, exactly, or nullopt when empty; expire() at that
    /// time fires at least one timer. O(1): each slot keeps its earliest timer, except after
    /// that one was cancelled: then it scans that slot once, or sorts it if that happens again.
    std::optional<timer_time> next_deadline() const;

    /// Unlinks and fires every node with deadline <= now, in deadline order, ties in insertion
    /// order; returns how many fired. now must not decrease from one call to the next. A fire
    /// callback may cancel (a cancelled node never fires) and insert; an inserted node with
    /// deadline <= now fires in this same call, so afterwards next_deadline() > now. A callback
    /// that always re-inserts an already-due timer therefore keeps expire() running. Not
    /// reentrant: fire must not call expire().
    std::size_t expire(timer_time now);

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

private:
    // 64 slots per level, so a level's occupancy is one uint64_t and finding the earliest
    // occupied slot is a count of trailing zeros.
    static constexpr unsigned slot_bits = 6;
    static constexpr std::size_t slots_per_level = std::size_t{1} << slot_bits;
    // A tick is 2^20 ns (~1.05 ms), a power of two so that insert shifts instead of dividing.
    // Order inside a slot comes from the exact deadlines, so the tick only trades how many timers
    // share a level-0 slot (sorted when it comes due: ~100 at 1M timers over 10 s) against how
    // often long timers cascade: level 0 spans 67 ms, level 1 4.3 s, level 2 4.6 min, so a 30 s
    // I/O timeout is re-filed at most twice.
    static constexpr unsigned tick_shift = 20;
    // A steady_clock difference is below 2^64 ns, i.e. 2^44 ticks: 8 levels of 6 bits cover it,
    // so no deadline, not even time_point::max(), overflows the wheel.
    static constexpr unsigned level_count = 8;
    static_assert(level_count * slot_bits >= 64 - tick_shift);
    static_assert(std::is_same_v<timer_time::period, std::nano>);
    static constexpr std::size_t slot_count = level_count * slots_per_level;
    static constexpr std::size_t no_slot = slot_count;
    // Each slot is `lanes` lists. With 1M timers the nodes are out of cache when a slot cascades
    // or is sorted, and one list is a chain of dependent misses (~200 ns each here); walking the
    // lanes side by side keeps that many misses in flight. (16 lanes measured 0-10% faster at
    // 1M pending, within the noise, and 12% slower at 1,000: their heads fall out of L1/L2.)
    // A spread slot puts a node in the lane
    // its deadline hashes to, so equal deadlines share a lane, where they stay in insertion
    // order; any other slot keeps everything in lane 0.
    static constexpr std::size_t lanes = 8;

    std::uint64_t tick_of(timer_time t) const noexcept;
    std::size_t slot_for(std::uint64_t tick) const noexcept;
    std::size_t slot_of(const timer_node& n) const noexcept;
    std::uint64_t slot_start(std::size_t slot) const noexcept;
    std::size_t earliest_slot() const noexcept;
    void file(timer_node& n, std::size_t slot, bool spread) noexcept;
    void mark_empty(std::size_t slot) const noexcept;
    void unlink(timer_node& n, std::size_t slot) noexcept;
    void cascade(std::size_t slot) noexcept;
    void ensure_sorted(std::size_t slot) const noexcept;
    timer_node* find_min() const noexcept;
    static std::size_t lane_of(timer_time deadline) noexcept;
    static timer_link* merge(timer_link* older, timer_link* newer) noexcept;
    template <bool detach, class F>
    void walk(std::size_t slot, F&& visit) const noexcept;

    std::int64_t start_ns_;
    // The wheel's origin tick: every pending node's tick is >= elapsed_ except deadlines that were
    // already past when inserted, which sit in the level-0 slot of elapsed_. A node at level L
    // shares all tick digits above L with elapsed_ and has a larger digit L (level 0: not
    // smaller), so the lowest occupied slot of the lowest occupied level holds the earliest node,
    // and slot_of() finds a pending node's slot from its deadline. elapsed_ only moves forward,
    // never past now_tick or the start of an occupied slot.
    std::uint64_t elapsed_ = 0;
    std::size_t size_ = 0;
    // Bit s of occupied_[L] is set exactly when slot s of level L is not empty.
    std::array<std::uint64_t, level_count> occupied_{};
    // Bit s of sorted_[L] is set when that slot's list is in (deadline, insertion) order; empty
    // slots count as sorted. Sorting happens lazily, even from next_deadline(), hence mutable.
    mutable std::array<std::uint64_t, level_count> sorted_{};
    // Bit s of spread_[L] is set when that slot uses all its lanes (never while sorted). Chosen
    // when the slot fills: slots above level 0, and those a spread slot cascades into.
    mutable std::array<std::uint64_t, level_count> spread_{};
    // Bit s of scanned_[L] is set once next_deadline() has scanned that slot for its minimum;
    // a second request sorts it instead. Cleared when the slot empties.
    mutable std::array<std::uint64_t, level_count> scanned_{};
    // Nodes per slot, and each slot's earliest node with its deadline (kept here so that filing
    // does not touch the old minimum); null when unknown because the minimum left the slot.
    mutable std::array<std::size_t, slot_count> count_{};
    mutable std::array<timer_node*, slot_count> slot_min_{};
    mutable std::array<timer_time, slot_count> slot_min_deadline_{};
    // The earliest pending node when min_known_ (null when empty); unknown after it left.
    mutable timer_node* min_ = nullptr;
    mutable bool min_known_ = true;
    bool expiring_ = false;
    // Sentinels of the circular lane lists, slot-major. mutable: sorting relinks them.
    mutable std::array<timer_link, slot_count * lanes> heads_;
};

}  // namespace corio::detail
