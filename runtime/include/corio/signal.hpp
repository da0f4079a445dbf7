// SPDX-License-Identifier: MIT
// signal_set, and wait_signal: await one delivery of one of a set of POSIX signals.
#pragma once

#include <corio/result.hpp>
#include <corio/task.hpp>

#include <cstdint>
#include <stop_token>

namespace corio {

/// Up to eight signal numbers, written as a braced list: wait_signal({SIGINT, SIGTERM}).
/// Not an initializer_list, because g++ 12 cannot keep one alive across a co_await.
class signal_set {
public:
    signal_set(int s1, int s2 = 0, int s3 = 0, int s4 = 0, int s5 = 0, int s6 = 0, int s7 = 0,
               int s8 = 0) noexcept {
        for (int s : {s1, s2, s3, s4, s5, s6, s7, s8}) {
            add(s);
        }
    }
    /// Bit n-1 stands for signal n; zero when any number given was not a catchable signal.
    std::uint64_t mask() const noexcept { return valid_ ? mask_ : 0; }

private:
    void add(int s) noexcept;
    std::uint64_t mask_ = 0;
    bool valid_ = true;
};

/// Suspends until one of `signals` is delivered and returns its number: a signal_listener that
/// lives for this one wait. The signals are caught only while the wait is pending; before and
/// after it they take their previous disposition (the default one kills the process), so a
/// loop of wait_signal calls loses or dies of a signal arriving between two calls: loops
/// should wait on one signal_listener instead. Errors: EINVAL for a signal that cannot be
/// caught (SIGKILL, SIGSTOP, out of range, reserved by the C library), EMFILE/ENFILE, EBUSY
/// if 64 listeners exist, operation_canceled.
task<result<int>> wait_signal(signal_set signals, std::stop_token token = {});

}  // namespace corio
