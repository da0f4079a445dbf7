// SPDX-License-Identifier: MIT
// wait_signal: await the delivery of one of a set of POSIX signals.
#pragma once

#include <corio/result.hpp>
#include <corio/task.hpp>

#include <initializer_list>
#include <stop_token>

namespace corio {

/// Suspends until one of `signals` (e.g. SIGINT, SIGTERM) is delivered and returns its number.
/// While any wait_signal call is pending, those signals are caught instead of taking their
/// default action; afterwards the previous disposition is restored. Errors: EINVAL for an
/// empty set or a signal that cannot be caught (SIGKILL, SIGSTOP), EMFILE/ENFILE, EBUSY if
/// more than 64 waits are pending at once, operation_canceled.
task<result<int>> wait_signal(std::initializer_list<int> signals, std::stop_token token = {});

}  // namespace corio
