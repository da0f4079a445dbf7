// SPDX-License-Identifier: MIT
// A request for one loop's task list, answered on that loop's thread.
#pragma once

#include <corio/diagnostics.hpp>

#include <condition_variable>
#include <mutex>
#include <vector>

namespace corio::detail {

/// Shared by the thread asking (runtime::dump_tasks) and the loop answering, so either may
/// give up first: an asker that timed out simply drops its reference.
struct dump_request {
    std::mutex mutex;
    std::condition_variable answered;
    bool done = false;
    std::vector<task_info> tasks;
};

}  // namespace corio::detail
