// SPDX-License-Identifier: MIT
// Switches for tests of corio/process.hpp: not for applications.
#pragma once

namespace corio::detail {
/// false: children spawned from now on are waited for through SIGCHLD, as where pidfd_open is
/// unavailable (Linux before 5.3); true (the default) restores pidfds. Process-wide.
void set_pidfd_enabled(bool enabled) noexcept;
}  // namespace corio::detail
