// SPDX-License-Identifier: MIT
// manual_clock: a clock that moves only when told to, so timer tests never sleep.
#pragma once

#include <atomic>
#include <chrono>

namespace corio {

namespace detail {
class scheduler;
}

/// The time source of a runtime's timers: std::chrono::steady_clock unless a manual_clock
/// is given in runtime_options. Time points are always steady_clock::time_point.
using clock_type = std::chrono::steady_clock;

namespace detail {
/// now + d, saturated at the ends of the clock's range: a delay of duration::max() means
/// "never" instead of overflowing (undefined) into the past.
constexpr clock_type::time_point deadline_after(clock_type::time_point now,
                                                clock_type::duration d) noexcept {
    if (d > clock_type::duration::zero() && now > clock_type::time_point::max() - d) {
        return clock_type::time_point::max();
    }
    if (d < clock_type::duration::zero() && now < clock_type::time_point::min() - d) {
        return clock_type::time_point::min();
    }
    return now + d;
}
}  // namespace detail

/// A clock for tests: starts at a fixed point and moves only by advance()/set().
/// advance() is thread-safe and wakes the runtime using the clock; time never goes back.
class manual_clock {
public:
    explicit manual_clock(clock_type::time_point start = clock_type::time_point{} +
                                                         std::chrono::hours(1))
        : now_ns_(start.time_since_epoch().count()) {}
    manual_clock(const manual_clock&) = delete;
    manual_clock& operator=(const manual_clock&) = delete;

    clock_type::time_point now() const noexcept {
        return clock_type::time_point(clock_type::duration(now_ns_.load(std::memory_order_acquire)));
    }
    /// Moves time forward by d (negative d is ignored), stopping at time_point::max() rather
    /// than wrapping, and wakes the attached runtime, whose loop then fires every timer now due,
    /// in deadline order.
    void advance(clock_type::duration d) noexcept;
    /// Moves time forward to t (no-op if t is in the past).
    void set(clock_type::time_point t) noexcept;

private:
    friend class detail::scheduler;
    std::atomic<clock_type::rep> now_ns_;
    std::atomic<detail::scheduler*> attached_{nullptr};
};

}  // namespace corio
