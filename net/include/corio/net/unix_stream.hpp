// SPDX-License-Identifier: MIT
// unix_stream: a connected Unix domain stream socket, with peer credentials and descriptor
// passing (SCM_RIGHTS).
#pragma once

#include <corio/buffer_pool.hpp>
#include <corio/clock.hpp>
#include <corio/io_handle.hpp>
#include <corio/net/owned_fd.hpp>
#include <corio/net/tcp_stream.hpp>  // detail::pooled_recv_op, shared with TCP
#include <corio/net/unix_address.hpp>
#include <corio/result.hpp>
#include <corio/stream.hpp>
#include <corio/task.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <stop_token>
#include <utility>
#include <vector>

namespace corio::net {

/// Who is at the other end of a Unix socket, as the kernel recorded it when the connection
/// was made (or socketpair() created it): SO_PEERCRED.
struct credentials {
    std::int32_t pid = 0;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
};

/// What one recv_fds() got: `size` bytes in the buffer (0: end of stream) and the descriptors
/// that came with them, owned here (close-on-exec; closed when this goes away unless released).
struct received_fds {
    std::size_t size = 0;
    std::vector<owned_fd> fds;
};

/// The most descriptors one send_fds or recv_fds carries (the kernel's SCM_MAX_FD).
inline constexpr std::size_t max_fds_per_message = 253;

namespace detail {
/// sendmsg(2) with SCM_RIGHTS: one non-blocking attempt.
struct send_fds_op {
    int fd;
    std::span<const std::byte> buf;
    std::span<const int> fds;
    result<std::size_t> operator()() const noexcept;
};
/// recvmsg(2) with room for `max_fds` descriptors: one non-blocking attempt.
struct recv_fds_op {
    int fd;
    std::span<std::byte> buf;
    std::size_t max_fds;
    result<received_fds> operator()() const noexcept;
};
}  // namespace detail

/// A connected Unix domain stream socket; closes on destruction. The same interface as
/// tcp_stream: one receive and one send may be pending at once (from different tasks), every
/// operation first tries the system call, then waits; a second concurrent receive (or send)
/// throws usage_error. A cancelled receive or send consumed or sent nothing (each is one
/// system call that either ran to completion or did not run).
class unix_stream {
public:
    unix_stream() noexcept = default;
    /// Adopts a connected, non-blocking AF_UNIX stream socket.
    explicit unix_stream(io_handle h) noexcept : h_(std::move(h)) {}

    /// Connects to a listening socket at `peer`, waiting at most `timeout` (zero or negative:
    /// no limit). A listener whose backlog is full makes it retry (1 ms doubling to 100 ms).
    /// Errors: ENOENT (no such path), ECONNREFUSED (nobody listens there), EACCES, EPROTOTYPE
    /// (a datagram socket), std::errc::invalid_argument for an unnamed address, EMFILE/ENFILE,
    /// std::errc::timed_out, operation_canceled (token or ambient token).
    static task<result<unix_stream>> connect(unix_address peer,
                                             clock_type::duration timeout = clock_type::duration::zero(),
                                             std::stop_token token = {});
    /// Two connected streams (socketpair(2)), e.g. one for a child process.
    /// Errors: EMFILE/ENFILE.
    static result<std::pair<unix_stream, unix_stream>> pair();

    /// Receives at least one byte into `buf`; 0 means the peer shut down its sending side.
    /// Descriptors sent with these bytes are closed (only recv_fds takes them).
    /// Errors: ECONNRESET, ..., operation_canceled, errc::closed (closed meanwhile).
    auto recv(std::span<std::byte> buf, std::stop_token token = {}) {
        return h_.recv(buf, std::move(token));
    }
    /// Receives into a buffer borrowed from the thread's pool once data is ready; an empty
    /// buffer means end of stream. Errors as recv.
    io_operation<detail::pooled_recv_op> recv(std::stop_token token = {}) {
        return h_.perform(interest::read, detail::pooled_recv_op{&h_}, std::move(token));
    }
    /// Sends at least one byte; returns how many. Errors: EPIPE (peer gone; no SIGPIPE),
    /// ECONNRESET, operation_canceled, errc::closed.
    auto send(std::span<const std::byte> buf, std::stop_token token = {}) {
        return h_.send(buf, std::move(token));
    }
    /// Sends all of `buf`, waiting as needed. Errors as send; on error (cancellation included)
    /// an unknown prefix of `buf` may have been sent.
    task<result<void>> send_all(std::span<const std::byte> buf, std::stop_token token = {});
    /// Sends the buffers in order with one system call when possible; returns bytes sent.
    auto writev(std::span<const const_buffer> bufs, std::stop_token token = {}) {
        return h_.writev(bufs, std::move(token));
    }

    /// Sends at least one byte of `buf` (which must not be empty) with the descriptors `fds`
    /// attached (the kernel gives the peer duplicates; the caller still owns and may close its
    /// own). Returns the bytes sent; the descriptors went with them, so only the rest of `buf`
    /// is left to send (with send). Errors: std::errc::invalid_argument for an empty `buf` or
    /// more than max_fds_per_message descriptors; EBADF for a bad descriptor in `fds`;
    /// ETOOMANYREFS (too many descriptors in flight); EPIPE, ECONNRESET, operation_canceled
    /// (nothing was sent), errc::closed.
    io_operation<detail::send_fds_op> send_fds(std::span<const std::byte> buf,
                                               std::span<const int> fds,
                                               std::stop_token token = {}) {
        return h_.perform(interest::write, detail::send_fds_op{h_.fd(), buf, fds}, std::move(token));
    }
    /// Receives at least one byte into `buf` and up to `max_fds` descriptors sent with them
    /// (close-on-exec; they share their open file, so O_NONBLOCK too, with the sender's).
    /// Errors: errc::descriptors_truncated when more descriptors came than `max_fds` (or the
    /// control buffer) has room for: those that did arrive are closed, the rest the kernel
    /// dropped, and the bytes of that receive (in `buf`) are consumed, so treat the stream as
    /// broken; std::errc::invalid_argument for max_fds above max_fds_per_message; ECONNRESET,
    /// operation_canceled (nothing was consumed), errc::closed.
    io_operation<detail::recv_fds_op> recv_fds(std::span<std::byte> buf, std::size_t max_fds,
                                               std::stop_token token = {}) {
        return h_.perform(interest::read, detail::recv_fds_op{h_.fd(), buf, max_fds},
                          std::move(token));
    }

    /// Ends one or both directions (send: the peer's recv returns 0). Errors: ENOTCONN, EBADF.
    result<void> shutdown(shutdown_how how) noexcept;
    /// The peer's process, user and group at connect time. Errors: the OS's (EBADF if closed).
    result<credentials> peer_credentials() const;
    /// This end's address: unnamed for a connecting socket. Errors: the OS's (EBADF if closed).
    result<unix_address> local_address() const;
    /// The listener's address (unnamed for socketpair()). Errors: ENOTCONN, EBADF.
    result<unix_address> remote_address() const;

    /// Closes now; a pending recv/send resumes with errc::closed.
    result<void> close() noexcept { return h_.close(); }
    bool is_open() const noexcept { return h_.is_open(); }
    io_handle& handle() noexcept { return h_; }

private:
    io_handle h_;
};

}  // namespace corio::net
