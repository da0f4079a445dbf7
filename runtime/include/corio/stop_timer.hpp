// SPDX-License-Identifier: MIT
// stop_timer: requests stop on a std::stop_source when a deadline passes on the caller's loop.
#pragma once

#include <corio/clock.hpp>

#include <cstddef>
#include <stop_token>

namespace corio {

/// Requests stop on a std::stop_source when a deadline passes on the loop of the runtime running
/// the caller: a timeout for everything that follows the source's tokens, re-armed at will.
///
/// One thread: arm, disarm and destruction happen on the thread of the loop it is armed on. It
/// fires from that loop, never inside arm(); a deadline already past fires at the loop's next
/// turn. Firing calls request_stop(), which runs the source's stop callbacks on the loop thread.
/// Not movable: the loop keeps its address while it is armed.
class stop_timer {
public:
    /// A disarmed timer for `source` (a copy shares the caller's stop state).
    explicit stop_timer(std::stop_source source) noexcept;
    /// Disarms. A timer still armed when its runtime is destroyed is dropped by the runtime, so
    /// destroying it afterwards is safe too.
    ~stop_timer();
    stop_timer(const stop_timer&) = delete;
    stop_timer& operator=(const stop_timer&) = delete;

    /// (Re)arms to fire `after` from the loop's last poll (loop_time()), replacing any earlier
    /// deadline. Counted from the poll rather than from a fresh clock read because a server arms
    /// one or two timeouts per request and each read costs a system call (or a vDSO call) on the
    /// hot path; the price is that the deadline is early by the work done since that poll, which
    /// is nothing for timeouts of seconds. A duration <= 0 fires at the next turn; a huge one
    /// saturates (never overflows into the past). Throws usage_error outside a runtime, or when
    /// still armed on another runtime.
    void arm(clock_type::duration after);
    /// As arm(), at an absolute `deadline` on the runtime's clock (its manual_clock if it has
    /// one, else steady_clock).
    void arm_at(clock_type::time_point deadline);
    /// Cancels a pending deadline; does nothing when none is pending (never armed, fired or
    /// disarmed already). Never throws.
    void disarm() noexcept;
    /// Whether a deadline is pending: false again once it has fired or been disarmed.
    bool armed() const noexcept;
    /// The last deadline set by arm()/arm_at() (kept after firing); time_point{} if never armed.
    clock_type::time_point deadline() const noexcept;
    /// The source it stops.
    const std::stop_source& source() const noexcept { return source_; }

private:
    // The queue entry, laid out in stop_timer.cpp: the runtime's timer node (deadline, callback,
    // two links) and the loop it is armed on. Opaque here so that no runtime-internal type shows
    // in this header, and in place rather than allocated, as servers hold one per connection;
    // stop_timer.cpp checks at compile time that the node fits.
    static constexpr std::size_t node_size = 48;
    static constexpr std::size_t node_align = 8;
    alignas(node_align) std::byte node_[node_size];
    std::stop_source source_;
};

/// The time the loop of the runtime running the caller last came back from polling (its manual
/// clock's now() when it has one): the clock stop_timer::arm counts from. Code that tolerates a
/// batch's lag (arrival times, timeouts) reads it instead of the clock. Throws usage_error
/// outside a runtime.
clock_type::time_point loop_time();

}  // namespace corio
