// SPDX-License-Identifier: MIT
// watch_source: what file_watcher needs from a kernel interface (inotify, kqueue EVFILT_VNODE).
#pragma once

#include <corio/file_watcher.hpp>
#include <corio/result.hpp>

#include <cstddef>
#include <deque>
#include <filesystem>
#include <memory>

namespace corio::detail {

/// One kernel interface behind a file_watcher. It owns no descriptor: the watcher's io_handle
/// owns the one readiness is awaited on (`fd` below), so closing it wakes a pending wait.
class watch_source {
public:
    virtual ~watch_source() = default;
    /// Starts watching `path`; errors as file_watcher::add.
    virtual result<watch_id> add(int fd, const std::filesystem::path& path) = 0;
    /// Ends a watch; errors as file_watcher::remove.
    virtual result<void> remove(int fd, watch_id id) = 0;
    /// Non-blocking: appends what the kernel has queued to `out` (maybe nothing, when all it
    /// read was bookkeeping) and returns how many bytes that took (the loop's fairness budget
    /// counts them); EAGAIN (system category, as read(2) reports it) when there was nothing.
    virtual result<std::size_t> read(int fd, std::deque<file_event>& out) = 0;
};

/// A source and the descriptor the loop waits on for it (the caller takes ownership of `fd`).
struct opened_source {
    std::unique_ptr<watch_source> source;
    int fd = -1;
};

/// inotify (Linux; elsewhere errc::backend_unavailable).
result<opened_source> open_inotify_source();
/// kqueue EVFILT_VNODE (where corio is built with kqueue; else errc::backend_unavailable).
result<opened_source> open_kqueue_source();

}  // namespace corio::detail
