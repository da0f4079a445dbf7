// SPDX-License-Identifier: MIT
// pipe_reader and pipe_writer: the two ends of an anonymous pipe (or a child process's stdio)
// as corio byte streams.
#pragma once

#include <corio/io_handle.hpp>
#include <corio/result.hpp>
#include <corio/stream.hpp>

#include <cstddef>
#include <span>
#include <stop_token>

namespace corio {

namespace detail {
/// write(2): a pipe is no socket, so send(2) and its MSG_NOSIGNAL do not apply; SIGPIPE is
/// blocked on a loop's thread instead (docs/design.md "SIGPIPE"). Readiness-based everywhere.
struct write_op {
    int fd;
    std::span<const std::byte> buf;
    result<std::size_t> operator()() const noexcept;
};
}  // namespace detail

/// What both ends of a pipe share: ownership of the descriptor.
class pipe_end {
public:
    /// Closes the descriptor; a pending operation resumes with errc::closed (a writer of a pipe
    /// whose last reader closed gets EPIPE; a reader whose last writer closed, end of stream).
    /// Errors: what close(2) reports (the descriptor is released regardless).
    result<void> close() noexcept { return h_.close(); }
    bool is_open() const noexcept { return h_.is_open(); }
    int fd() const noexcept { return h_.fd(); }
    /// Hands the descriptor back without closing it (-1 if none); a pending operation resumes
    /// with errc::closed. It stays non-blocking and close-on-exec.
    int release() noexcept { return h_.release(); }

protected:
    pipe_end() noexcept = default;
    explicit pipe_end(int fd) noexcept : h_(fd) {}
    io_handle h_;
};

/// The read end of a pipe: a non-blocking, close-on-exec descriptor read in the loop (on
/// io_uring as a native read). Satisfies async_read_stream. One read pending at a time (a
/// second concurrent one throws usage_error); use it on one loop, as an io_handle.
class pipe_reader : public pipe_end {
public:
    /// Empty: operations on it fail with errc::closed.
    pipe_reader() noexcept = default;
    /// Takes ownership of `fd`, the read side of a pipe or FIFO (or a character device, or a
    /// socket), and makes it non-blocking and close-on-exec. O_NONBLOCK belongs to the open file,
    /// so a descriptor shared with another process (a terminal's stdin) turns non-blocking there
    /// too. Errors: EBADF (not an open descriptor: nothing is taken), EINVAL (a regular file or
    /// directory, which cannot be waited on: nothing is taken).
    static result<pipe_reader> adopt(int fd) noexcept;

    /// Reads at least one byte into `buf`; 0 at end of stream (every write end closed), or when
    /// `buf` is empty. Errors: operation_canceled (`token` or the task's ambient token stopped;
    /// nothing was consumed: bytes the kernel had already copied are returned instead),
    /// errc::closed (closed meanwhile, or never open), the OS errno.
    io_operation<detail::read_op> recv(std::span<std::byte> buf, std::stop_token token = {}) {
        return h_.read(buf, std::move(token));
    }
    /// The same as recv().
    io_operation<detail::read_op> read(std::span<std::byte> buf, std::stop_token token = {}) {
        return h_.read(buf, std::move(token));
    }

    /// Ends reading: `receive` or `both` closes the descriptor (see close()). Errors: EINVAL for
    /// shutdown_how::send (a read end has no sending direction; nothing changes).
    result<void> shutdown(shutdown_how how) noexcept;

private:
    friend struct pipe_ends;
    explicit pipe_reader(int fd) noexcept : pipe_end(fd) {}
};

/// The write end of a pipe: a non-blocking, close-on-exec descriptor written in the loop.
/// Satisfies async_write_stream. A write of at most PIPE_BUF (4096) bytes is atomic. One write
/// pending at a time (a second concurrent one throws usage_error); use it on one loop.
class pipe_writer : public pipe_end {
public:
    /// Empty: operations on it fail with errc::closed.
    pipe_writer() noexcept = default;
    /// Takes ownership of `fd`, the write side of a pipe or FIFO (or a character device, or a
    /// socket), made non-blocking and close-on-exec (shared with other processes, as for
    /// pipe_reader::adopt). Errors: EBADF, EINVAL (a regular file or directory); nothing taken.
    static result<pipe_writer> adopt(int fd) noexcept;

    /// Writes at least one byte of `buf` (fewer than all when the pipe has less room: loop, or
    /// use corio's copy helpers). Errors: EPIPE when every read end is closed (never SIGPIPE),
    /// operation_canceled (`token` or the ambient token stopped; nothing was written),
    /// errc::closed (closed meanwhile, or never open), the OS errno.
    io_operation<detail::write_op> send(std::span<const std::byte> buf,
                                        std::stop_token token = {}) {
        return h_.perform(interest::write, detail::write_op{h_.fd(), buf}, std::move(token));
    }
    /// The same as send().
    io_operation<detail::write_op> write(std::span<const std::byte> buf,
                                         std::stop_token token = {}) {
        return send(buf, std::move(token));
    }
    /// Gathers `bufs` into one write (at most IOV_MAX of them); returns the bytes written, maybe
    /// fewer than all. Errors and cancellation as send(). The buffers must stay valid until it
    /// completes.
    io_operation<detail::writev_op> writev(std::span<const const_buffer> bufs,
                                           std::stop_token token = {}) {
        return h_.writev(bufs, std::move(token));
    }

    /// `send` or `both` closes the descriptor: once every write end is closed the reader sees
    /// end of stream. Errors: EINVAL for shutdown_how::receive (nothing changes); else close()'s.
    result<void> shutdown(shutdown_how how) noexcept;

private:
    friend struct pipe_ends;
    explicit pipe_writer(int fd) noexcept : pipe_end(fd) {}
};

/// Both ends of a new pipe.
struct pipe_ends {
    pipe_reader reader;
    pipe_writer writer;

private:
    friend result<pipe_ends> make_pipe() noexcept;
    pipe_ends(int read_fd, int write_fd) noexcept : reader(read_fd), writer(write_fd) {}
};

/// Creates a pipe whose ends are both non-blocking and close-on-exec (pipe2 with O_NONBLOCK |
/// O_CLOEXEC, atomically: no child spawned meanwhile on another thread inherits them).
/// Errors: EMFILE, ENFILE.
result<pipe_ends> make_pipe() noexcept;

}  // namespace corio
