// SPDX-License-Identifier: MIT
// file: positional reads and writes of a regular file that never block the loop.
#pragma once

#include <corio/result.hpp>
#include <corio/task.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>

namespace corio {

/// How file::open opens a file; combine with |. Without write (or read_write) the file is
/// read-only; create, exclusive, truncate and append need write.
enum class open_flags : unsigned {
    read = 1,
    write = 2,
    read_write = 3,
    create = 4,     ///< create it if missing (with file::open's `permissions`, less the umask)
    exclusive = 8,  ///< with create: EEXIST if it exists already
    truncate = 16,  ///< cut an existing file to 0 bytes
    append = 32,    ///< every write goes to the end, whatever offset write_at names (Linux)
};
constexpr open_flags operator|(open_flags a, open_flags b) noexcept {
    return static_cast<open_flags>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool has_flag(open_flags set, open_flags f) noexcept {
    return (static_cast<unsigned>(set) & static_cast<unsigned>(f)) == static_cast<unsigned>(f);
}

namespace detail {
struct file_fd;
}

/// An open regular file. Regular files are always "ready" to poll and epoll, so readiness
/// cannot tell when a read would block on the disk: on io_uring the reads, writes and syncs
/// are native io_uring operations; on every other backend a read is first tried on the loop
/// thread for what the page cache holds (preadv2 RWF_NOWAIT) and otherwise, like writes and
/// syncs, runs on the runtime's blocking pool (spawn_blocking). Either way the loop keeps
/// running other tasks meanwhile.
///
/// Any number of read_at/write_at/fsync calls may be pending at once, from any task (they are
/// positional: no shared file position). A call in flight keeps the descriptor alive, so
/// close() or destroying the file never makes it act on a reused descriptor number.
/// Every operation needs a running runtime (usage_error otherwise); errc::closed on a file
/// that is not open (default-constructed, moved from, or closed).
class file {
public:
    file() noexcept = default;
    /// Adopts `fd` (any descriptor pread/pwrite work on), which the file then closes.
    explicit file(int fd);
    file(file&&) noexcept = default;
    file& operator=(file&&) noexcept = default;
    file(const file&) = delete;
    file& operator=(const file&) = delete;
    ~file();

    /// Opens `path` close-on-exec (and O_NONBLOCK, so a FIFO or device never hangs the open).
    /// A path the kernel's dentry cache resolves is opened on the loop thread at once; any
    /// other open (a cold path, create or truncate) runs on the blocking pool. Errors: the
    /// errno (ENOENT, EACCES, EISDIR for a directory opened for writing, EEXIST, ENAMETOOLONG,
    /// ENOTDIR...); EINVAL for a path with a NUL byte or flags without read or write (or
    /// create/exclusive/truncate/append without write); operation_canceled (a cancelled open
    /// that had already started finishes in the background and its descriptor is closed).
    static task<result<file>> open(std::filesystem::path path, open_flags flags = open_flags::read,
                                   unsigned permissions = 0666, std::stop_token token = {});

    bool is_open() const noexcept { return fd_ != nullptr; }
    /// The descriptor, or -1 when not open. Still the file's: do not close it.
    int native_handle() const noexcept;

    /// Reads up to buf.size() bytes at `offset`. Returns the count: 0 only at or past the end
    /// of the file, and maybe fewer than asked (at the end of the file, or when only part of the
    /// range was in the page cache): call again, or use read_exact_at. Errors: the errno (EISDIR
    /// for a directory, EBADF for a file not opened for reading, EINVAL...), errc::closed,
    /// operation_canceled. Cancelled: nothing was consumed (reads are positional, so read the
    /// range again). On io_uring a read not started yet is cancelled in the kernel; one that
    /// completed anyway returns its count and bytes, never dropping them. Elsewhere the call
    /// returns at once; a read already running finishes into a buffer of its own that is then
    /// dropped, so `buf` is never written after the call has returned.
    task<result<std::size_t>> read_at(std::uint64_t offset, std::span<std::byte> buf,
                                      std::stop_token token = {});
    /// Reads exactly buf.size() bytes at `offset`. Errors: as read_at; errc::unexpected_eof when
    /// the file ends first (buf then holds what there was). Cancelled: buf holds an unknown
    /// prefix of the range; read it again.
    task<result<void>> read_exact_at(std::uint64_t offset, std::span<std::byte> buf,
                                     std::stop_token token = {});

    /// Writes up to buf.size() bytes at `offset` (at the end with open_flags::append), growing
    /// the file as needed. Returns the count, which may be short (a full disk writes what fits
    /// first): call again, or use write_all_at. Errors: the errno (ENOSPC, EFBIG, EBADF for a
    /// file not opened for writing...), errc::closed, operation_canceled. Cancelled: on io_uring
    /// a write not started is cancelled in the kernel (nothing written); one that completed
    /// anyway returns its count. Elsewhere a write not started never happens, but one already
    /// running still completes in the background (from a copy of buf the call made, so buf
    /// may go at once). On every backend, after a cancelled write_at the range holds the old
    /// bytes or the new: write it again if it matters.
    task<result<std::size_t>> write_at(std::uint64_t offset, std::span<const std::byte> buf,
                                       std::stop_token token = {});
    /// Writes all of buf at `offset`, calling write_at until done. Errors: as write_at.
    /// Cancelled: an unknown prefix of buf may have been written (see write_at).
    task<result<void>> write_all_at(std::uint64_t offset, std::span<const std::byte> buf,
                                    std::stop_token token = {});

    /// The file's size now (fstat(2) on the open descriptor, on the loop thread: it needs
    /// no disk access). Errors: the errno, errc::closed.
    result<std::uint64_t> size() const;
    /// fsync(2): the data and metadata written so far reach the disk before it returns.
    /// Errors: the errno (EIO: a write failed earlier; treat the data as lost), errc::closed,
    /// operation_canceled (the sync may still complete in the background; sync again).
    task<result<void>> fsync(std::stop_token token = {});
    /// fdatasync(2): as fsync, without metadata that reading the data back does not need.
    task<result<void>> fdatasync(std::stop_token token = {});

    /// Closes the file. A call still in flight (say a cancelled write finishing in the
    /// background) keeps the descriptor open until it ends, and this then returns success.
    /// Errors: what close(2) reports (the file is closed regardless); errc::closed if not open.
    result<void> close();

private:
    explicit file(std::shared_ptr<detail::file_fd> fd) noexcept : fd_(std::move(fd)) {}
    task<result<void>> sync(bool data_only, std::stop_token token);
    std::shared_ptr<detail::file_fd> fd_;
};

/// read_file's limits.
struct read_file_options {
    /// A larger file is std::errc::file_too_large (EFBIG), read no further: a bound on
    /// memory, not on the disk. The default is 1 GiB.
    std::uint64_t max_size = std::uint64_t{1} << 30;
};

/// The whole content of `path` (bytes as they are, no text conversion). Errors: as file::open
/// and read_at; std::errc::file_too_large past options.max_size (also when the file grows
/// past it while being read); operation_canceled (nothing is returned; the file is unchanged).
task<result<std::string>> read_file(std::filesystem::path path, read_file_options options = {},
                                    std::stop_token token = {});

/// write_file's choices.
struct write_file_options {
    /// Write a temporary file next to `path`, fsync it, then rename it over `path`: a reader
    /// (or a crash) sees the old content or the new, never a mix or a cut file. Without it the
    /// file is truncated and written in place.
    bool atomic = false;
    /// fsync before returning (with atomic, the directory too, so the rename itself lasts).
    bool sync = false;
    /// Permissions of a created file, less the umask (an atomic write always creates one).
    unsigned permissions = 0666;
};

/// Writes `bytes` to `path`, creating it or replacing its content. Errors: as file::open and
/// write_at, and rename(2)'s (atomic); on error an atomic write leaves `path` as it was and
/// removes its temporary file. Cancelled (operation_canceled): an in-place write may have
/// written part of the file; an atomic one leaves `path` as it was, or already replaced if
/// the rename had happened.
task<result<void>> write_file(std::filesystem::path path, std::span<const std::byte> bytes,
                              write_file_options options = {}, std::stop_token token = {});
/// write_file for text (or any bytes held in a string).
task<result<void>> write_file(std::filesystem::path path, std::string_view text,
                              write_file_options options = {}, std::stop_token token = {});

}  // namespace corio
