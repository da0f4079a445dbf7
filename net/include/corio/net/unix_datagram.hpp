// SPDX-License-Identifier: MIT
// unix_datagram: a Unix domain datagram socket (message boundaries kept, reliable, ordered).
#pragma once

#include <corio/io_handle.hpp>
#include <corio/net/detail/socket_file.hpp>
#include <corio/net/unix_address.hpp>
#include <corio/net/unix_listener.hpp>  // unix_bind_options
#include <corio/result.hpp>

#include <cstddef>
#include <span>
#include <stop_token>
#include <utility>

namespace corio::net {

/// One datagram received: `size` bytes of it are in the buffer; `full_size` is how long it
/// was. A datagram longer than the buffer is cut to fit (the kernel drops the rest), and
/// truncated() says so (MSG_TRUNC) rather than passing it off as whole.
struct unix_datagram_info {
    std::size_t size = 0;
    std::size_t full_size = 0;
    unix_address peer;  ///< the sender's address (unnamed for an unbound sender)
    bool truncated() const noexcept { return full_size > size; }
};

namespace detail {
/// sendto(2) with MSG_NOSIGNAL to a sockaddr_un of `len` bytes (0: the connected peer).
struct dgram_send_op {
    int fd;
    std::span<const std::byte> buf;
    const void* addr;
    std::size_t len;
    result<std::size_t> operator()() const noexcept;
};
/// recvfrom(2) with MSG_TRUNC, so the datagram's full length comes back.
struct dgram_recv_op {
    int fd;
    std::span<std::byte> buf;
    result<unix_datagram_info> operator()() const noexcept;
};
}  // namespace detail

/// A Unix domain datagram socket; closes (and unlinks a file it bound, by default) on
/// destruction. One receive and one send may be pending at once; a second concurrent one in
/// the same direction throws usage_error. Each operation is one system call: a cancelled
/// receive consumed no datagram, a cancelled send sent none.
class unix_datagram {
public:
    unix_datagram() noexcept = default;

    /// A socket bound to `local` (see unix_bind_options for the socket file). Errors:
    /// EADDRINUSE, ENOENT/EACCES for the path's directory, std::errc::invalid_argument for an
    /// unnamed address, EMFILE/ENFILE.
    static result<unix_datagram> bind(const unix_address& local, unix_bind_options options = {});
    /// An unbound socket, to send from (replies cannot reach it: the receiver sees an
    /// unnamed sender). Errors: EMFILE/ENFILE.
    static result<unix_datagram> open();
    /// Two connected sockets (socketpair(2)). Errors: EMFILE/ENFILE.
    static result<std::pair<unix_datagram, unix_datagram>> pair();

    /// Sets the default peer for send() and keeps datagrams from others out of recv().
    /// Completes at once. Errors: ENOENT (no such path), ECONNREFUSED (nothing bound there),
    /// EPROTOTYPE (a stream socket), std::errc::invalid_argument for an unnamed address.
    result<void> connect(const unix_address& peer);

    /// Sends `buf` as one datagram to `peer`. A full socket send buffer is waited out; a
    /// receiver whose queue is full (EAGAIN while the socket looks writable: no event announces
    /// room in another socket's queue) is retried with back-off, 1 ms doubling to 50 ms; a
    /// connected socket's send() is woken by the kernel instead, so prefer it for a fast
    /// stream of datagrams to one reader. Errors: EMSGSIZE (larger than the send buffer),
    /// ENOENT (no such path), ECONNREFUSED (nothing bound there), EISCONN (connected),
    /// std::errc::invalid_argument for an unnamed `peer`, operation_canceled (nothing sent),
    /// errc::closed.
    task<result<std::size_t>> send_to(std::span<const std::byte> buf, const unix_address& peer,
                                      std::stop_token token = {});
    /// Receives one datagram into `buf`, with its sender; truncation is reported in the info.
    /// Errors: operation_canceled (no datagram consumed), errc::closed.
    io_operation<detail::dgram_recv_op> recv_from(std::span<std::byte> buf,
                                                  std::stop_token token = {}) {
        return h_.perform(interest::read, detail::dgram_recv_op{h_.fd(), buf}, std::move(token));
    }
    /// Sends `buf` as one datagram to the connected peer, waiting while its queue is full.
    /// Errors: EMSGSIZE, ECONNREFUSED (the peer closed), ENOTCONN, operation_canceled (nothing
    /// sent), errc::closed.
    io_operation<detail::dgram_send_op> send(std::span<const std::byte> buf,
                                             std::stop_token token = {}) {
        return h_.perform(interest::write, detail::dgram_send_op{h_.fd(), buf, nullptr, 0},
                          std::move(token));
    }
    /// Receives one datagram (from the connected peer) as recv_from does.
    io_operation<detail::dgram_recv_op> recv(std::span<std::byte> buf, std::stop_token token = {}) {
        return recv_from(buf, std::move(token));
    }

    /// The bound address (unnamed if not bound). Errors: the OS's (EBADF once closed).
    result<unix_address> local_address() const;
    /// The connected peer. Errors: ENOTCONN, EBADF.
    result<unix_address> remote_address() const;

    /// Closes now (a pending operation resumes with errc::closed) and unlinks a file bind
    /// made (with unlink_on_close). Errors: close(2)'s.
    result<void> close() noexcept;
    bool is_open() const noexcept { return h_.is_open(); }
    io_handle& handle() noexcept { return h_; }

private:
    unix_datagram(io_handle h, detail::socket_file file) noexcept
        : file_(std::move(file)), h_(std::move(h)) {}
    detail::socket_file file_;  // declared first: destroyed after h_ closed the socket
    io_handle h_;
};

}  // namespace corio::net
