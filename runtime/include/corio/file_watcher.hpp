// SPDX-License-Identifier: MIT
// file_watcher: change events for files and directories, waited for in the loop like a socket.
#pragma once

#include <corio/result.hpp>
#include <corio/task.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stop_token>
#include <string_view>
#include <system_error>
#include <vector>

namespace corio {

/// file_watcher's own error conditions, in their own category ("corio.file_watcher").
enum class watch_errc {
    /// The OS's limit on file watches is reached (Linux: the sysctl fs.inotify.max_user_watches;
    /// inotify says ENOSPC, which would read as a full disk).
    limit_reached = 1,
};

/// The category of watch_errc; message() says which limit to raise.
const std::error_category& watch_category() noexcept;

inline std::error_code make_error_code(watch_errc e) noexcept {
    return {static_cast<int>(e), watch_category()};
}

/// Names one watch of a file_watcher (from add()); compares equal for the same watch.
/// Only meaningful with the watcher that made it.
struct watch_id {
    int value = -1;
    friend bool operator==(watch_id, watch_id) = default;
};

/// What happened. Entry events (created .. moved_out) come from a watched directory and name
/// the entry; watched_* events are about the watched path itself.
enum class file_event_kind : std::uint8_t {
    created,          ///< an entry appeared in a watched directory (file, directory, link...)
    modified,         ///< a file's contents were written (the watched file, or an entry)
    attributes,       ///< metadata changed: permissions, owner, timestamps, link count
    deleted,          ///< an entry was removed from a watched directory
    renamed,          ///< an entry moved from `from_path` to `path`, both in watched directories
    moved_in,         ///< an entry moved into a watched directory from an unwatched one
    moved_out,        ///< an entry moved out of a watched directory to an unwatched one
    watched_deleted,  ///< the watched path itself is gone (or its file system was unmounted):
                      ///< its watch has ended
    watched_moved,    ///< the watched path itself was renamed; the watch follows the file
    overflow,         ///< the kernel's event queue overflowed: events were lost, so rescan
};

/// The kind's name ("created", "renamed", ...), for logs.
std::string_view to_string(file_event_kind kind) noexcept;

/// One change. `path` is the watched path joined with the entry's name (entry events) or the
/// watched path itself (watched_* events and events of a watched file); empty for overflow.
struct file_event {
    file_event_kind kind = file_event_kind::modified;
    watch_id watch{};                  ///< the watch that reported it (none for overflow)
    std::filesystem::path path{};
    std::filesystem::path from_path{}; ///< renamed: where the entry was; else empty
    watch_id from_watch{};             ///< renamed: the watch of from_path
    bool is_directory = false;         ///< the entry is a directory (as far as the API tells)
};

/// Which kernel interface a file_watcher uses.
enum class watch_method : std::uint8_t {
    automatic,  ///< inotify where the OS has it (Linux), else kqueue (BSD, macOS)
    inotify,    ///< Linux inotify: entry names, rename pairs, overflow events
    kqueue,     ///< kqueue EVFILT_VNODE (see docs/file-watcher.md for what it cannot report)
};

/// How a file_watcher is opened. Every field has a usable default.
struct file_watcher_options {
    watch_method method = watch_method::automatic;
};

/// Watches files and directories and yields their change events in order, waiting in the
/// running loop like a socket read (every backend). One task waits at a time; use it on one
/// loop's thread (as an io_handle: the loop of its first wait).
class file_watcher {
public:
    /// Opens a watcher with no watches. Errors: errc::backend_unavailable (the method is not
    /// compiled in or not on this OS), EMFILE (descriptor or inotify instance limit, see
    /// fs.inotify.max_user_instances), ENOMEM.
    static result<file_watcher> open(file_watcher_options options = {});

    /// Empty: every operation on it throws usage_error.
    file_watcher() noexcept = default;
    /// Watches, queued events and a pending wait move along with it.
    file_watcher(file_watcher&&) noexcept = default;
    file_watcher& operator=(file_watcher&& other) noexcept;
    file_watcher(const file_watcher&) = delete;
    file_watcher& operator=(const file_watcher&) = delete;
    /// Ends every watch. A pending wait completes with errc::closed; queued events are dropped.
    ~file_watcher();

    bool is_open() const noexcept { return state_ != nullptr; }

    /// Starts watching `path`: a file (its modifications, attributes, deletion, renaming) or a
    /// directory (those of the directory and of its direct entries, not of subdirectories'
    /// contents). Adding a path already watched returns its existing id. Symbolic links are
    /// followed. Errors: ENOENT (no such path), EACCES, ENOTDIR (a path component is not a
    /// directory), ENAMETOOLONG, EINVAL (empty path or an embedded NUL),
    /// watch_errc::limit_reached (inotify: fs.inotify.max_user_watches reached), and with the
    /// kqueue method EMFILE (it holds one descriptor per watch).
    result<watch_id> add(const std::filesystem::path& path);

    /// Stops a watch. Events it reported that are already queued stay queued; events the
    /// kernel still held for it are dropped. Errors: EINVAL (not a watch of this watcher, or it
    /// has already ended: after watched_deleted).
    result<void> remove(watch_id id);

    /// The next event: at once if one is queued, else when one arrives. Errors:
    /// operation_canceled (`token` or the task's ambient token stopped while nothing was queued:
    /// a cancelled call consumed no event, and events it read stay queued for the next call),
    /// errc::closed (the watcher was destroyed or moved meanwhile), the OS error of read(2).
    /// One wait at a time: a second concurrent next()/next_batch() throws usage_error.
    task<result<file_event>> next(std::stop_token token = {});

    /// Every queued event (at least one), waiting as next() does when none is queued. Errors
    /// and cancellation as next().
    task<result<std::vector<file_event>>> next_batch(std::stop_token token = {});

    /// The next event without suspending: a queued one, else what one non-blocking read of the
    /// kernel's queue brings; EAGAIN when there is none. Errors: the OS error of read(2).
    result<file_event> try_next();

private:
    struct state;
    explicit file_watcher(std::shared_ptr<state> s) noexcept : state_(std::move(s)) {}
    void close() noexcept;
    state& checked(const char* what) const;
    static task<result<void>> fill(std::shared_ptr<state> s, std::stop_token token);
    static task<result<file_event>> next_on(std::shared_ptr<state> s, std::stop_token token);
    static task<result<std::vector<file_event>>> batch_on(std::shared_ptr<state> s,
                                                          std::stop_token token);

    // Shared with a running wait, so destroying or moving the watcher meanwhile leaves the
    // waiting task a valid state to finish on (it then reports errc::closed).
    std::shared_ptr<state> state_;
};

}  // namespace corio

template <>
struct std::is_error_code_enum<corio::watch_errc> : std::true_type {};
