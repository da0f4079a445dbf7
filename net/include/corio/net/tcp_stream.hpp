// SPDX-License-Identifier: MIT
// tcp_stream: a connected TCP socket whose operations suspend instead of blocking.
#pragma once

#include <corio/buffer_pool.hpp>
#include <corio/clock.hpp>
#include <corio/io_handle.hpp>
#include <corio/net/address.hpp>
#include <corio/result.hpp>
#include <corio/stream.hpp>
#include <corio/task.hpp>

#include <chrono>
#include <cstddef>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

namespace corio::net {

/// Which direction(s) shutdown() ends (corio::shutdown_how, shared by every stream).
using corio::shutdown_how;

namespace detail {
/// One pooled receive: borrows a buffer only for the attempt, keeps it only if bytes came.
struct pooled_recv_op {
    io_handle* h;
    result<pooled_buffer> operator()() const noexcept;
    // On io_uring the kernel picks the buffer from a provided-buffer ring when data arrives.
    corio::detail::completion_request describe() const noexcept {
        return {corio::detail::completion_kind::recv_pooled, h->fd()};
    }
    result<pooled_buffer> complete(corio::detail::completion& c) const noexcept;
};
}  // namespace detail

/// A connected TCP socket; closes on destruction. One receive and one send may be pending at
/// once (from different tasks); every operation first tries the system call, then waits.
class tcp_stream {
public:
    tcp_stream() noexcept = default;
    /// Adopts a connected, non-blocking socket.
    explicit tcp_stream(io_handle h) noexcept : h_(std::move(h)) {}

    /// Connects to `peer`, waiting at most `timeout` (zero or negative: no limit).
    /// Errors: ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EMFILE/ENFILE, std::errc::timed_out,
    /// operation_canceled (token or ambient token). Never throws for network failures.
    static task<result<tcp_stream>> connect(endpoint peer,
                                            clock_type::duration timeout = clock_type::duration::zero(),
                                            std::stop_token token = {});

    /// How long Happy Eyeballs waits for one connection attempt before it starts the next
    /// (RFC 8305's recommended Connection Attempt Delay).
    static constexpr clock_type::duration attempt_delay = std::chrono::milliseconds(250);

    /// Resolves `host` (a name, "localhost", or a numeric address: see net::resolve) and
    /// connects to it with Happy Eyeballs, as connect(std::vector<endpoint>) below; `timeout`
    /// (zero or negative: no limit) covers the resolution and every attempt. Errors: those of
    /// net::resolve (resolve_errc::host_not_found for a name that does not resolve, ...); the
    /// error of the last attempt to fail when every address failed (ECONNREFUSED, ...);
    /// std::errc::timed_out; operation_canceled (token or ambient token).
    static task<result<tcp_stream>> connect(std::string host, std::uint16_t port,
                                            clock_type::duration timeout = clock_type::duration::zero(),
                                            std::stop_token token = {});

    /// Connects to the first of `peers` that answers, with Happy Eyeballs (RFC 8305): the
    /// addresses are tried IPv6 first, the families alternating (each family keeping its order
    /// in `peers`); the next attempt starts attempt_delay after the previous one if none has
    /// connected by then, and at once when an attempt fails. The first attempt to connect wins;
    /// every other is cancelled and its socket closed before this returns. `timeout` (zero or
    /// negative: no limit) covers all attempts. Errors: the error of the last attempt to fail
    /// when all failed; std::errc::timed_out; operation_canceled (token or ambient token);
    /// std::errc::invalid_argument for an empty `peers`.
    static task<result<tcp_stream>> connect(std::vector<endpoint> peers,
                                            clock_type::duration timeout = clock_type::duration::zero(),
                                            std::stop_token token = {});

    /// Receives at least one byte into `buf`; 0 means the peer shut down its sending side.
    /// Errors: ECONNRESET, ETIMEDOUT, ..., operation_canceled, errc::closed (closed meanwhile).
    /// A second concurrent receive throws usage_error.
    auto recv(std::span<std::byte> buf, std::stop_token token = {}) {
        return h_.recv(buf, std::move(token));
    }
    /// Receives into a buffer borrowed from the thread's pool once data is ready, so a task
    /// waiting on an idle connection holds no buffer. An empty buffer means end of stream.
    /// Errors as recv.
    io_operation<detail::pooled_recv_op> recv(std::stop_token token = {}) {
        return h_.perform(interest::read, detail::pooled_recv_op{&h_}, std::move(token));
    }
    /// Sends at least one byte; returns how many. Errors: EPIPE/ECONNRESET (no SIGPIPE),
    /// operation_canceled, errc::closed.
    auto send(std::span<const std::byte> buf, std::stop_token token = {}) {
        return h_.send(buf, std::move(token));
    }
    /// Sends all of `buf`, waiting as needed. Errors as send; on error an unknown prefix of
    /// `buf` may have been sent.
    task<result<void>> send_all(std::span<const std::byte> buf, std::stop_token token = {});
    /// Sends the buffers in order with one system call when possible; returns bytes sent.
    auto writev(std::span<const const_buffer> bufs, std::stop_token token = {}) {
        return h_.writev(bufs, std::move(token));
    }

    /// Ends one or both directions (send: the peer's recv returns 0). Errors: ENOTCONN.
    result<void> shutdown(shutdown_how how) noexcept;
    /// Disables (true) or enables Nagle's algorithm. Errors: the OS's (EBADF if closed).
    result<void> set_nodelay(bool on) noexcept;
    result<endpoint> local_endpoint() const;
    result<endpoint> remote_endpoint() const;

    /// Closes now; a pending recv/send resumes with errc::closed.
    result<void> close() noexcept { return h_.close(); }
    bool is_open() const noexcept { return h_.is_open(); }
    io_handle& handle() noexcept { return h_; }

private:
    io_handle h_;
};

}  // namespace corio::net
