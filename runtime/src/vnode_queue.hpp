// SPDX-License-Identifier: MIT
// vnode_queue: a kqueue of EVFILT_VNODE knotes, and a descriptor the loop can wait on for it.
#pragma once

#include <corio/result.hpp>

#include <memory>
#include <vector>

namespace corio::detail {

/// One EVFILT_VNODE event: the watch id kept in its udata and its NOTE_* flags.
struct vnode_note {
    int id;
    unsigned notes;
};

/// Owns a kqueue (for EVFILT_VNODE changes through kq()) and hands out what it reports.
/// A system kqueue descriptor polls readable when it holds events, so the loop waits on it
/// directly. libkqueue's (Linux) is the write end of a pipe and never does: there a relay
/// thread blocks in kevent() and wakes the loop through a socket pair.
class vnode_queue {
public:
    /// Errors: those of kqueue(2), socketpair(2), kevent(2) and starting a thread.
    static result<std::unique_ptr<vnode_queue>> open();
    virtual ~vnode_queue() = default;

    /// The kqueue, for registering knotes (kevent(2) is thread-safe).
    virtual int kq() const noexcept = 0;
    /// The descriptor to wait readable on; the caller owns it (closing it is how the watcher
    /// wakes its waiter) and passes it back to take().
    virtual int fd() const noexcept = 0;
    /// Non-blocking: the events reported since the last take(); EAGAIN when there are none.
    virtual result<std::vector<vnode_note>> take(int fd) = 0;
};

}  // namespace corio::detail
