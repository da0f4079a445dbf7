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

/// Pending timers in deadline order: a circular near wheel of one-tick slots covering the next
/// ~17 s, in front of a hierarchical far wheel for later deadlines; both hold exact deadlines.
/// One thread only; insert and cancel are O(1) and never allocate; expire is O(fired + moved
/// + k log k for each near slot of k timers it sorts). A timer due within ~17 s of the wheel's
/// time (every I/O timeout of 10 s) is filed once and never moved; a later one is moved once per
/// far level it passes, then once into the near wheel. Lists are walked several side by side, so
/// with a million timers out of cache a move or sort waits for several misses at once instead of
/// one after another (BM_timer_expire_rearm). The wheels themselves are ~220 KiB.
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
    /// time fires at least one timer. O(1) while the earliest timer is known; after it left, the
    /// earliest near slot is sorted (as expire() would when it comes due), and a far slot keeps
    /// its earliest timer, or scans itself once, or sorts itself if that happens again.
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
    // A tick is 2^21 ns (~2.1 ms), a power of two so that insert shifts instead of dividing.
    // Order inside a slot comes from the exact deadlines, so the tick trades how many timers a
    // near slot sorts when it comes due (~200 at 1M timers over 10 s) against the near wheel's
    // size for a given span.
    static constexpr unsigned tick_shift = 20;
    static_assert(std::is_same_v<timer_time::period, std::nano>);

    // The near wheel: one slot per tick, circular, holding exactly the ticks in
    // [elapsed_, elapsed_ + near_slots) (and deadlines already past, in elapsed_'s slot).
    // 2^13 ticks span 17.2 s. Occupancy is a bitmap with a summary word per 64 words.
    static constexpr unsigned near_bits = 34 - tick_shift;
    static constexpr std::size_t near_slots = std::size_t{1} << near_bits;
    static constexpr std::size_t near_mask = near_slots - 1;
    static constexpr std::size_t near_words = near_slots / 64;
    static constexpr std::size_t no_slot = ~std::size_t{0};
    // How many near slots are sorted together, their lists walked side by side so that their
    // cache misses overlap; also the far wheel's lanes per slot.
    static constexpr std::size_t lanes = 8;
    static constexpr std::size_t near_group = 4;

    // The far wheel: 64 slots per level, so a level's occupancy is one uint64_t. A steady_clock
    // difference is below 2^64 ns, i.e. 2^43 ticks: 8 levels of 6 bits cover it, so no deadline,
    // not even time_point::max(), overflows it.
    static constexpr unsigned slot_bits = 6;
    static constexpr std::size_t slots_per_level = std::size_t{1} << slot_bits;
    static constexpr unsigned level_count = 8;
    static_assert(level_count * slot_bits >= 64 - tick_shift);
    static constexpr std::size_t slot_count = level_count * slots_per_level;

    using sentinels = std::array<timer_link*, lanes>;
    // The state of one list's merge sort: runs[i] is null or a sorted run of 2^i nodes.
    struct sort_runs {
        std::array<timer_link*, 64> runs{};
        std::size_t used = 0;
    };

    std::uint64_t tick_of(timer_time t) const noexcept;
    void file(timer_node& n) noexcept;
    void file_near(timer_node& n, std::size_t slot) noexcept;
    std::size_t near_slot_of(std::uint64_t tick) const noexcept;
    std::size_t near_first() const noexcept;
    void sort_near(std::size_t slot) const noexcept;
    void advance(std::uint64_t tick) noexcept;
    void pull(std::uint64_t limit) noexcept;
    std::size_t far_slot_for(std::uint64_t tick) const noexcept;
    std::uint64_t far_slot_start(std::size_t slot) const noexcept;
    std::size_t far_earliest() const noexcept;
    void file_far(timer_node& n, std::size_t slot, bool spread) noexcept;
    void far_mark_empty(std::size_t slot) const noexcept;
    sentinels far_lanes(std::size_t slot) const noexcept;
    void cascade(std::size_t slot) noexcept;
    void far_sort(std::size_t slot) const noexcept;
    timer_node* far_min() const noexcept;
    timer_node* find_min() const noexcept;
    void unlink_near(timer_node& n, std::size_t slot) noexcept;
    void unlink_far(timer_node& n, std::size_t slot) noexcept;
    void forget(timer_node& n) noexcept;
    static void prefetch_node(const timer_link* n) noexcept;
    static void append(timer_link& sentinel, timer_node& n) noexcept;
    static void unlink_links(timer_node& n) noexcept;
    static std::size_t lane_of(timer_time deadline) noexcept;
    static timer_link* merge(timer_link* older, timer_link* newer) noexcept;
    static void push_run(sort_runs& s, timer_link* n) noexcept;
    static void relink(timer_link& sentinel, sort_runs& s) noexcept;
    static void sort_lists(const sentinels& lists, std::size_t count) noexcept;
    template <bool detach, class F>
    static void walk(const sentinels& lists, std::size_t count, F&& visit) noexcept;

    std::int64_t start_ns_;
    // The near wheel's origin tick. It only moves forward, never past now_tick or an occupied
    // near slot; every node with a tick below elapsed_ + near_slots is in the near wheel.
    std::uint64_t elapsed_ = 0;
    // The far wheel's origin tick, elapsed_ + near_slots except inside pull(). Every far node's
    // tick is >= it. A node at level L shares all tick digits above L with far_elapsed_ and has
    // a larger digit L (level 0: not smaller), so the lowest occupied slot of the lowest occupied
    // level holds the earliest far node, and far_slot_for() finds a far node's slot.
    std::uint64_t far_elapsed_ = near_slots;
    std::size_t size_ = 0;
    // The earliest pending node when min_known_ (null when empty); unknown after it left.
    mutable timer_node* min_ = nullptr;
    mutable bool min_known_ = true;
    bool expiring_ = false;

    // Bit s of near_occupied_ is set exactly when near slot s is not empty; bit w of
    // near_summary_ exactly when word w of near_occupied_ is not zero.
    std::array<std::uint64_t, near_words> near_occupied_{};
    std::array<std::uint64_t, near_words / 64> near_summary_{};
    // Bit s set when near slot s is in (deadline, insertion) order; empty slots count as sorted.
    // Sorting happens lazily, even from next_deadline(), hence mutable.
    mutable std::array<std::uint64_t, near_words> near_sorted_{};

    // Bit s of occupied_[L] is set exactly when far slot s of level L is not empty.
    std::array<std::uint64_t, level_count> occupied_{};
    // Bit s of sorted_[L] is set when that far slot is one list in (deadline, insertion) order.
    mutable std::array<std::uint64_t, level_count> sorted_{};
    // Bit s of spread_[L] is set when that far slot uses all its lanes (never while sorted): a
    // node goes to the lane its deadline hashes to, so equal deadlines share a lane, where they
    // stay in insertion order.
    mutable std::array<std::uint64_t, level_count> spread_{};
    // Bit s of scanned_[L] is set once next_deadline() has scanned that far slot for its
    // minimum; a second request sorts it instead. Cleared when the slot empties.
    mutable std::array<std::uint64_t, level_count> scanned_{};
    // Nodes per far slot, and each far slot's earliest node with its deadline (kept here so
    // that filing does not touch the old minimum); null when unknown because the minimum left.
    mutable std::array<std::size_t, slot_count> count_{};
    mutable std::array<timer_node*, slot_count> slot_min_{};
    mutable std::array<timer_time, slot_count> slot_min_deadline_{};

    // Sentinels of the circular lists. mutable: sorting relinks them.
    mutable std::array<timer_link, near_slots> near_heads_;
    mutable std::array<timer_link, slot_count * lanes> heads_;  // far, slot-major
};

}  // namespace corio::detail
