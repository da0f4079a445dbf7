// SPDX-License-Identifier: MIT
// io_loop: what a waiting operation needs of the loop it runs on, one pointer away from its
// task's promise, without the scheduler's header (and its <mutex>, <thread>, <functional>) in
// every translation unit that does I/O.
#pragma once

#include <cstdint>

namespace corio::detail {

class scheduler;
class completion_port;

/// A loop as its waits see it: its scheduler, its completion backend (null on readiness
/// backends) and the running task's cooperative budget. Owned by the scheduler; every task
/// promise of that loop points at it (promise_base::loop()).
struct io_loop {
    scheduler* sched = nullptr;
    completion_port* port = nullptr;
    /// Operations the running task may still finish without suspending; at zero the next one
    /// suspends once, so one busy socket cannot keep the loop from timers and other sockets.
    std::uint32_t budget = 0;
};

/// The loop running on this thread (set while a scheduler runs, and while it is destroyed),
/// or nullptr. For code that has no coroutine handle; a wait asks its task's promise instead
/// (loop_of), and compares with this only to catch a task resumed on a foreign thread.
/// constinit: no TLS wrapper call, one thread-pointer-relative load.
inline constinit thread_local io_loop* this_thread_loop = nullptr;

}  // namespace corio::detail
