// SPDX-License-Identifier: MIT
// A request for one loop's task list, answered on that loop's thread.
#pragma once

#include <corio/diagnostics.hpp>

#include <condition_variable>
#include <mutex>
#include <source_location>
#include <string_view>
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

/// The function of `loc` as a reader wants it: g++ names a coroutine body
/// "void f(f(args)::_Z1f....Frame*)"; this gives "f(args)". Other names are returned unchanged.
std::string_view readable_function(const std::source_location& loc) noexcept;

}  // namespace corio::detail
