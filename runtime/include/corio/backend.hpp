// SPDX-License-Identifier: MIT
// Choosing a reactor backend by name.
#pragma once

#include <string>
#include <vector>

namespace corio {

/// Names of the backends compiled into this build and usable on this machine, in order of
/// preference (e.g. "epoll", "epoll-et"). Any of them can be passed to runtime_options::backend.
std::vector<std::string> available_backends();

/// The backend used when none is named: $CORIO_BACKEND when set, else "epoll".
/// Read once when a runtime or event_loop opens, never deeper inside.
std::string default_backend_name();

}  // namespace corio
