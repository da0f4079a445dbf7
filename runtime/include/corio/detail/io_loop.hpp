// SPDX-License-Identifier: MIT
// io_loop: what an I/O awaitable needs of the loop running it, without the scheduler's header
// (and its <mutex>, <thread>, <functional>) in every translation unit that does I/O.
#pragma once

#include <cstdint>

namespace corio::detail {

class scheduler;
class completion_port;

/// The loop running on this thread: its scheduler (null outside a runtime), its completion
/// backend (null on readiness backends) and the running task's cooperative budget.
struct io_loop {
    scheduler* sched = nullptr;
    completion_port* port = nullptr;
    /// Operations the running task may still finish without suspending; at zero the next one
    /// suspends once, so one busy socket cannot keep the loop from timers and other sockets.
    std::uint32_t* budget = nullptr;
};

io_loop current_io_loop() noexcept;

}  // namespace corio::detail
