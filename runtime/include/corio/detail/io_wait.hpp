// SPDX-License-Identifier: MIT
// io_wait: a coroutine parked until a descriptor is ready (the readiness model). Only readiness
// dispatch resumes it: the reactor's callback, or on io_uring the one-shot poll it owns.
#pragma once

#include <corio/detail/waiter.hpp>
#include <corio/interest.hpp>

namespace corio {
class io_handle;
}

namespace corio::detail {

/// A coroutine parked on an io_handle until one direction is ready. Readiness dispatch calls
/// `attempt` to retry the system call, so a spurious wake-up never resumes anyone.
struct io_wait : waiter {
    bool (*attempt)(io_wait&) noexcept = nullptr;  // true once the operation finished
    io_handle* owner = nullptr;  // whose reader or writer slot it occupies
    interest dir = interest::none;
    void* poll = nullptr;  // io_uring: the one-shot poll this wait owns while it is armed
};

/// io_uring: the one-shot poll owned by `w` reported `r`. Retries w's operation; returns true
/// when it finished (w is scheduled and owns no poll any more), false when w stays parked and
/// its poll must be armed again (readiness was spurious).
bool poll_ready(io_wait& w, readiness r) noexcept;

}  // namespace corio::detail
