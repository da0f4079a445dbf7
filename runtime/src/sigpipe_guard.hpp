// SPDX-License-Identifier: MIT
// sigpipe_guard: while a loop runs, writes to a closed pipe or socket give EPIPE, never SIGPIPE.
#pragma once

namespace corio::detail {

/// Blocks SIGPIPE on the calling thread for its lifetime; on exit, discards a SIGPIPE that
/// became pending meanwhile (one a write in the loop raised) and restores the thread's mask.
/// Some calls take no MSG_NOSIGNAL (writev on a pipe, sendfile, io_uring's writes), so a
/// per-call flag cannot keep the promise; a blocked thread-directed SIGPIPE is never
/// delivered, and io_uring's own worker threads block every signal.
class sigpipe_guard {
public:
    sigpipe_guard() noexcept;
    ~sigpipe_guard();
    sigpipe_guard(const sigpipe_guard&) = delete;
    sigpipe_guard& operator=(const sigpipe_guard&) = delete;

private:
    bool was_blocked_ = false;  // the application blocks it itself: leave the mask as it is
    bool was_pending_ = false;  // pending before the loop ran: not ours to discard
};

}  // namespace corio::detail
