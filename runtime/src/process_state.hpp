// SPDX-License-Identifier: MIT
// child::state and the calls on it shared by spawn (process.cpp) and the waits (process_child.cpp).
#pragma once

#include <corio/detail/process_testing.hpp>
#include <corio/io_handle.hpp>
#include <corio/process.hpp>
#include <corio/signal_listener.hpp>

#include <optional>

namespace corio::process {

struct child::state {
    int pid = -1;
    io_handle pidfd;  // readable once the child exits; closed (or never opened) on the SIGCHLD path
    bool uses_pidfd = false;
    std::optional<exit_status> status;  // set once reaped
    bool kill_on_cancel = false;
    bool kill_on_drop = false;
    bool waiting = false;     // a wait() is running
    bool dropped = false;     // the child object let go: a running wait ends with errc::closed
    signal_listener sigchld;  // the SIGCHLD path: held by the running wait, closed by drop()
};

}  // namespace corio::process

namespace corio::detail {
/// Reaps the child if it has exited (waitid WNOHANG); nullopt while it runs. Errors: ECHILD.
result<std::optional<process::exit_status>> try_reap(process::child::state& s) noexcept;
/// Sends `signal` through the pidfd (else kill(2)); ESRCH once reaped.
result<void> send_signal(process::child::state& s, int signal) noexcept;
/// Whether spawn opens pidfds (set_pidfd_enabled in detail/process_testing.hpp).
bool pidfd_enabled() noexcept;
/// Reaps `pid` from a background thread; takes ownership of `pidfd` (-1: none, then each such
/// child is waited for in turn). Best effort: if no thread can be started, the child stays a
/// zombie until this process exits.
void reap_in_background(int pid, int pidfd) noexcept;
}  // namespace corio::detail
