// SPDX-License-Identifier: MIT
// corio::file: open, positional reads and writes, syncs. Native io_uring operations where the
// loop has a completion backend; elsewhere a read is tried on the loop for what the page cache
// holds, and what would block runs on the blocking pool, on copies the pool's job owns.
#include <corio/file.hpp>

#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/spawn_blocking.hpp>

#include <corio/detail/sys.hpp>

#include "file_native.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace corio {
namespace {

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

const std::error_code canceled = std::make_error_code(std::errc::operation_canceled);

// The most one call moves (Linux's own limit for read and write).
constexpr std::size_t max_chunk = 0x7ffff000;

result<int> open_flags_of(open_flags f) noexcept {
    const bool r = has_flag(f, open_flags::read);
    const bool w = has_flag(f, open_flags::write);
    const auto needs_write = open_flags::create | open_flags::exclusive | open_flags::truncate;
    const bool wants_write = (static_cast<unsigned>(f) & static_cast<unsigned>(needs_write)) != 0 ||
                             has_flag(f, open_flags::append);
    if ((!r && !w) || (wants_write && !w) || static_cast<unsigned>(f) >= 64) {
        return std::make_error_code(std::errc::invalid_argument);
    }
    int flags = (r && w) ? O_RDWR : (w ? O_WRONLY : O_RDONLY);
    flags |= O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    if (has_flag(f, open_flags::create)) flags |= O_CREAT;
    if (has_flag(f, open_flags::exclusive)) flags |= O_EXCL;
    if (has_flag(f, open_flags::truncate)) flags |= O_TRUNC;
    if (has_flag(f, open_flags::append)) flags |= O_APPEND;
    return flags;
}

// openat2 with RESOLVE_CACHED: succeeds only if the dentry cache resolves the whole path, so it
// never waits for the disk. EAGAIN (not cached, or create/truncate), and EINVAL or ENOSYS from
// a kernel without it, send the open to the pool.
int open_cached(const char* path, int flags, unsigned mode) noexcept {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_CACHED;
    return static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how));
}

bool try_on_pool(int err) noexcept { return err == EAGAIN || err == EINVAL || err == ENOSYS; }

/// A positional call's count, with EINTR retried (pool threads block signals, but a descriptor
/// adopted from elsewhere may be a FIFO or device that a signal interrupts).
template <class Call>
result<std::size_t> count_of(Call call) noexcept {
    for (;;) {
        const ssize_t n = call();
        if (n >= 0) {
            return static_cast<std::size_t>(n);
        }
        if (errno != EINTR) {
            return last_error();
        }
    }
}

/// A read of what the page cache holds, on the loop thread: the count, or EAGAIN when the
/// first byte would need the disk (EOPNOTSUPP where the filesystem cannot tell).
result<std::size_t> pread_nowait(int fd, std::span<std::byte> buf, std::uint64_t off) noexcept {
    iovec iov{buf.data(), buf.size()};
    return count_of([&] { return ::preadv2(fd, &iov, 1, static_cast<off_t>(off), RWF_NOWAIT); });
}

/// The fast path of a read on a readiness backend: what the page cache holds, on the loop thread,
/// paid for from the task's budget as io_handle's calls are. nullopt: the pool must read it.
std::optional<result<std::size_t>> read_cached(detail::file_fd& f, std::span<std::byte> buf,
                                               std::uint64_t offset) noexcept {
    if (f.no_nowait.load(std::memory_order_relaxed)) {
        return std::nullopt;
    }
    result<std::size_t> r = pread_nowait(f.fd, buf, offset);
    if (r) {
        if (detail::io_loop* loop = detail::this_thread_loop) {
            const auto cost = 1 + static_cast<std::uint32_t>(std::min<std::size_t>(*r / 2048, 1024));
            loop->budget -= std::min(cost, loop->budget);
        }
        return r;
    }
    if (r.error() == std::errc::operation_not_supported) {
        f.no_nowait.store(true, std::memory_order_relaxed);  // never again for this file
        return std::nullopt;
    }
    if (detail::would_block(r.error())) {
        return std::nullopt;
    }
    return r;
}

// What a read on the pool hands back: bytes in a buffer of the job's own, so a caller that
// was cancelled and has freed its buffer is never written to.
struct pool_read {
    std::unique_ptr<std::byte[]> data;
    std::size_t size = 0;
};

/// What read_at and write_at answer before any I/O: errc::closed for a file not open, 0 for an
/// empty buffer; nullopt when there is I/O to do.
std::optional<result<std::size_t>> answered_at_once(const detail::file_fd* fd, std::size_t len) {
    if (!fd) {
        return result<std::size_t>(errc::closed);
    }
    if (len == 0) {
        return result<std::size_t>(std::size_t{0});
    }
    return std::nullopt;
}

/// On a completion backend, `req` done as a native operation; nullopt where it is the pool's
/// (a readiness backend, or EAGAIN: a descriptor opened O_NONBLOCK on a filesystem io_uring
/// cannot wait on, which a pool thread can).
task<std::optional<result<std::size_t>>> try_native(detail::completion_request req,
                                                    std::stop_token token) {
    if (!detail::current_port()) {
        co_return std::nullopt;
    }
    result<std::size_t> r = co_await detail::native_file_op(req, std::move(token));
    if (!r && detail::would_block(r.error())) {
        co_return std::nullopt;
    }
    co_return r;
}

}  // namespace

file::file(int fd) {
    if (fd >= 0) {
        fd_ = std::make_shared<detail::file_fd>(fd);
    }
}

file::~file() = default;

int file::native_handle() const noexcept { return fd_ ? fd_->fd : -1; }

task<result<file>> file::open(std::filesystem::path path, open_flags flags, unsigned permissions,
                              std::stop_token token) {
    const auto how = open_flags_of(flags);
    if (!how) {
        co_return how.error();
    }
    if (path.native().find('\0') != std::string::npos) {
        co_return std::make_error_code(std::errc::invalid_argument);
    }
    const int fd = open_cached(path.c_str(), *how, permissions);
    if (fd >= 0) {
        co_return file(fd);
    }
    if (!try_on_pool(errno)) {
        co_return last_error();
    }
    // The job owns the path, and its result is a file: one the task no longer waits for
    // (cancelled) is closed when the job drops it.
    auto call = [p = std::move(path), o = *how, permissions]() -> result<file> {
        const int d = ::open(p.c_str(), o, static_cast<mode_t>(permissions));
        if (d < 0) {
            return last_error();
        }
        return file(d);
    };
    co_return co_await spawn_blocking(std::move(call), std::move(token));
}

task<result<std::size_t>> file::read_at(std::uint64_t offset, std::span<std::byte> buf,
                                        std::stop_token token) {
    buf = buf.first(std::min(buf.size(), max_chunk));
    if (auto now = answered_at_once(fd_.get(), buf.size())) {
        co_return *now;
    }
    if (auto native = co_await try_native(
            {detail::completion_kind::read, fd_->fd, buf.data(), buf.size(), offset}, token)) {
        co_return *native;
    }
    if (!detail::current_port()) {
        if (detail::this_thread_loop && detail::this_thread_loop->budget == 0) {
            co_await yield{};  // a task reading a cached file in a loop must let others run
        }
        if (auto cached = read_cached(*fd_, buf, offset)) {
            co_return *cached;
        }
    }
    auto call = [f = fd_, offset, len = buf.size()]() -> result<pool_read> {
        pool_read out{std::make_unique_for_overwrite<std::byte[]>(len)};
        auto n = count_of([&] { return ::pread(f->fd, out.data.get(), len, static_cast<off_t>(offset)); });
        if (!n) {
            return n.error();
        }
        out.size = *n;
        return out;
    };
    auto got = co_await spawn_blocking(std::move(call), std::move(token));
    if (!got) {
        co_return got.error();
    }
    std::memcpy(buf.data(), got->data.get(), got->size);
    co_return got->size;
}

task<result<void>> file::read_exact_at(std::uint64_t offset, std::span<std::byte> buf,
                                       std::stop_token token) {
    std::size_t done = 0;
    while (done < buf.size()) {
        auto n = co_await read_at(offset + done, buf.subspan(done), token);
        if (!n) {
            co_return n.error();
        }
        if (*n == 0) {
            co_return errc::unexpected_eof;
        }
        done += *n;
    }
    co_return result<void>{};
}

task<result<std::size_t>> file::write_at(std::uint64_t offset, std::span<const std::byte> buf,
                                         std::stop_token token) {
    buf = buf.first(std::min(buf.size(), max_chunk));
    if (auto now = answered_at_once(fd_.get(), buf.size())) {
        co_return *now;
    }
    if (auto native = co_await try_native({detail::completion_kind::write, fd_->fd,
                                           const_cast<std::byte*>(buf.data()), buf.size(), offset},
                                          token)) {
        co_return *native;
    }
    // The job writes from a copy of its own: a cancelled call returns at once, and the caller
    // may free buf while the write still runs.
    auto copy = std::make_unique_for_overwrite<std::byte[]>(buf.size());
    std::memcpy(copy.get(), buf.data(), buf.size());
    auto call = [f = fd_, offset, data = std::move(copy), len = buf.size()] {
        return count_of([&] { return ::pwrite(f->fd, data.get(), len, static_cast<off_t>(offset)); });
    };
    co_return co_await spawn_blocking(std::move(call), std::move(token));
}

task<result<void>> file::write_all_at(std::uint64_t offset, std::span<const std::byte> buf,
                                      std::stop_token token) {
    std::size_t done = 0;
    while (done < buf.size()) {
        auto n = co_await write_at(offset + done, buf.subspan(done), token);
        if (!n) {
            co_return n.error();
        }
        done += *n;  // pwrite of a regular file writes at least one byte or fails (ENOSPC)
    }
    co_return result<void>{};
}

result<std::uint64_t> file::size() const {
    if (!fd_) {
        return errc::closed;
    }
    struct stat st {};
    if (::fstat(fd_->fd, &st) != 0) {
        return last_error();
    }
    return static_cast<std::uint64_t>(st.st_size);
}

task<result<void>> file::sync(bool data_only, std::stop_token token) {
    if (!fd_) {
        co_return errc::closed;
    }
    const auto kind = data_only ? detail::completion_kind::fdatasync : detail::completion_kind::fsync;
    if (auto native = co_await try_native({kind, fd_->fd}, token)) {
        if (!*native) {
            co_return native->error();
        }
        co_return result<void>{};
    }
    auto call = [f = fd_, data_only]() -> result<void> {
        if ((data_only ? ::fdatasync(f->fd) : ::fsync(f->fd)) != 0) {
            return last_error();
        }
        return {};
    };
    co_return co_await spawn_blocking(std::move(call), std::move(token));
}

task<result<void>> file::fsync(std::stop_token token) { return sync(false, std::move(token)); }

task<result<void>> file::fdatasync(std::stop_token token) { return sync(true, std::move(token)); }

result<void> file::close() {
    if (!fd_) {
        return errc::closed;
    }
    if (fd_.use_count() > 1) {
        fd_.reset();  // a call in flight holds it: closed when that call ends
        return {};
    }
    const int fd = std::exchange(fd_->fd, -1);
    fd_.reset();
    return detail::sys_close(fd);
}

}  // namespace corio
