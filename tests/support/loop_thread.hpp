// SPDX-License-Identifier: MIT
// loop_thread: a second runtime on a thread of its own, running one task: what a second loop is.
#pragma once

#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <thread>
#include <utility>

namespace corio_test {

/// Runs `t` to completion on a fresh runtime (the backend CORIO_BACKEND names) on a new thread;
/// joined on destruction. Catch2 assertions are not thread-safe: the task records what it saw
/// and the test checks it after join(). Build the test's own runtime before a loop_thread:
/// liburing maps its rings with raw syscalls TSan does not see, so a ring mapped where the
/// other thread's ring was just unmapped is reported as a race.
class loop_thread {
public:
    explicit loop_thread(corio::task<void> t)
        : thread_([t = std::move(t)]() mutable {
              corio::runtime rt;
              rt.block_on(std::move(t));
          }) {}
    loop_thread(const loop_thread&) = delete;
    loop_thread& operator=(const loop_thread&) = delete;
    ~loop_thread() { join(); }

    void join() {
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    /// The thread the loop runs on (also after join()).
    std::thread::id id() const noexcept { return id_; }

private:
    std::thread thread_;
    std::thread::id id_ = thread_.get_id();
};

}  // namespace corio_test
