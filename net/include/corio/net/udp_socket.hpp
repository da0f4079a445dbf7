// SPDX-License-Identifier: MIT
// udp_socket: a UDP socket whose receives and sends suspend instead of blocking, one datagram
// or a batch (recvmmsg/sendmmsg) per call.
#pragma once

#include <corio/buffer_pool.hpp>
#include <corio/io_handle.hpp>
#include <corio/net/address.hpp>
#include <corio/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>

namespace corio::net {

/// What one received datagram was: how much of it landed in the buffer, its full length, and
/// who sent it. A datagram longer than the buffer is cut to it, and `truncated()` says so.
struct datagram_info {
    std::size_t size = 0;    ///< bytes placed in the buffer (0 for an empty datagram)
    std::size_t length = 0;  ///< the datagram's full length: more than size when truncated
    endpoint sender;         ///< on a dual-stack IPv6 socket, IPv4 senders are v4-mapped
    bool truncated() const noexcept { return length > size; }
};

/// One buffer of a recv_many batch, and what arrived in it.
/// The caller sets `buffer`; recv_many fills `info` of the slots it used.
struct datagram_slot {
    std::span<std::byte> buffer;
    datagram_info info;
};

/// One datagram of a send_many batch: its bytes, and where to (nullopt: the connected peer).
/// The bytes and the endpoint are read during the call only.
struct outgoing_datagram {
    std::span<const std::byte> data;
    std::optional<endpoint> to;
};

/// A datagram received into a buffer borrowed from the runtime's pool (pooled_buffer::capacity()
/// bytes; a longer datagram is truncated, as info says). The buffer goes back when this dies.
struct pooled_datagram {
    pooled_buffer data;
    datagram_info info;
};

/// Socket options applied by udp_socket::bind and udp_socket::open.
struct udp_options {
    /// SO_REUSEADDR: several sockets may bind one address and port (multicast receivers).
    bool reuse_address = false;
    /// SO_REUSEPORT: sockets bound to one port share its datagrams (one socket per loop).
    bool reuse_port = false;
    /// IPV6_V6ONLY for an IPv6 socket. false (the default, set whatever the system's
    /// net.ipv6.bindv6only): the socket also sends to and receives from IPv4 peers, which
    /// appear as v4-mapped addresses (::ffff:a.b.c.d).
    bool v6_only = false;
};

class udp_socket;

namespace detail {
// Scratch headers for recvmmsg/sendmmsg (udp_socket.cpp): allocated at a socket's first
// batch, then reused, so a batch allocates nothing.
struct udp_batch;
struct udp_batch_deleter {
    void operator()(udp_batch* b) const noexcept;
};
using udp_batch_ptr = std::unique_ptr<udp_batch, udp_batch_deleter>;

// One non-blocking attempt each, run by io_handle::perform (readiness on every backend).
struct udp_recv_op {
    udp_socket* s;
    std::span<std::byte> buf;
    result<datagram_info> operator()() const noexcept;
};
struct udp_pooled_recv_op {
    udp_socket* s;
    result<pooled_datagram> operator()() const noexcept;
};
struct udp_send_op {
    udp_socket* s;
    std::span<const std::byte> data;
    std::optional<endpoint> to;
    result<std::size_t> operator()() const noexcept;
};
struct udp_recv_many_op {
    udp_socket* s;
    std::span<datagram_slot> slots;
    result<std::size_t> operator()() const noexcept;
};
struct udp_send_many_op {
    udp_socket* s;
    std::span<const outgoing_datagram> datagrams;
    result<std::size_t> operator()() const noexcept;
};
}  // namespace detail

/// A UDP socket (IPv4 or IPv6); closes on destruction. One receive and one send may be pending
/// at once (from different tasks of one loop). A datagram is consumed only by a call that
/// completes with it: a receive that ends with an error (operation_canceled included) took
/// nothing, and a send that ends with operation_canceled sent nothing.
class udp_socket {
public:
    /// The most datagrams one recv_many or send_many moves (one system call); larger batches
    /// are served in part, as their result says.
    static constexpr std::size_t max_batch = 64;

    udp_socket() noexcept = default;
    /// Moving a socket with an operation pending throws usage_error (as io_handle's move does).
    udp_socket(udp_socket&&) = default;
    udp_socket& operator=(udp_socket&&) = default;

    /// A socket bound to `local` (port 0: the kernel picks one; local_endpoint() says which).
    /// Errors: EADDRINUSE, EADDRNOTAVAIL (an address not of this host), EACCES (privileged
    /// port), EMFILE/ENFILE.
    static result<udp_socket> bind(const endpoint& local, udp_options options = {});
    /// An unbound socket of `family`: the kernel binds it to an ephemeral port at its first
    /// send or connect. Errors: EAFNOSUPPORT (no IPv6 in this kernel), EMFILE/ENFILE.
    static result<udp_socket> open(address_family family, udp_options options = {});

    /// Sets the default peer: send() and send_many() without an address go there, and only its
    /// datagrams are received. Returns at once (UDP has no handshake). An ICMP "port
    /// unreachable" for a datagram sent to it later fails the next operation with
    /// ECONNREFUSED. Errors: EAFNOSUPPORT (`peer` of the other family, see send_to),
    /// ENETUNREACH, EINVAL.
    result<void> connect(const endpoint& peer) noexcept;
    /// Forgets the default peer (connect to AF_UNSPEC): datagrams from anyone arrive again.
    /// Errors: the OS's.
    result<void> disconnect() noexcept;

    /// Receives one datagram into `buf`; the result says its size, full length (truncated()
    /// when longer than `buf`: the rest is discarded, never left for the next call) and sender.
    /// An empty datagram gives size 0 (not an end: UDP has none). Errors: ECONNREFUSED (a
    /// connected socket's earlier datagram was refused), operation_canceled (token or the
    /// task's ambient token: nothing was received), errc::closed. One receive at a time: a
    /// second concurrent one throws usage_error.
    io_operation<detail::udp_recv_op> recv_from(std::span<std::byte> buf, std::stop_token token = {}) {
        return h_.perform(interest::read, detail::udp_recv_op{this, buf}, std::move(token));
    }
    /// As recv_from(buf), into a buffer borrowed from the runtime's pool only once a datagram
    /// is ready, so a task waiting on an idle socket holds no buffer. Errors as recv_from.
    io_operation<detail::udp_pooled_recv_op> recv_from(std::stop_token token = {}) {
        return h_.perform(interest::read, detail::udp_pooled_recv_op{this}, std::move(token));
    }
    /// recv_from on a connected socket (the sender is always the peer). Errors as recv_from.
    io_operation<detail::udp_recv_op> recv(std::span<std::byte> buf, std::stop_token token = {}) {
        return recv_from(buf, std::move(token));
    }
    /// Receives up to min(slots.size(), max_batch) datagrams with one recvmmsg: waits for the
    /// first, then takes those already queued. Returns how many; slot i's info describes the
    /// i-th, truncation included. Errors as recv_from (a refused datagram's ECONNREFUSED
    /// comes after the datagrams before it); EINVAL for empty `slots`; ENOMEM when its scratch
    /// headers (allocated once per socket) cannot be.
    io_operation<detail::udp_recv_many_op> recv_many(std::span<datagram_slot> slots,
                                                     std::stop_token token = {}) {
        return h_.perform(interest::read, detail::udp_recv_many_op{this, slots}, std::move(token));
    }

    /// Sends `data` as one datagram to `to`; returns its size (a datagram goes whole or not at
    /// all). On an IPv6 socket that is not v6_only an IPv4 `to` is sent as v4-mapped. Errors:
    /// EAFNOSUPPORT (`to` of the other family: IPv6 on an IPv4 socket, IPv4 on a v6_only one),
    /// EMSGSIZE (larger than a datagram can be), EACCES (a broadcast address without
    /// set_broadcast(true)), ENETUNREACH, ECONNREFUSED (connected socket, see connect),
    /// operation_canceled (nothing was sent), errc::closed. One send at a time.
    io_operation<detail::udp_send_op> send_to(std::span<const std::byte> data, const endpoint& to,
                                              std::stop_token token = {}) {
        return h_.perform(interest::write, detail::udp_send_op{this, data, to}, std::move(token));
    }
    /// Sends one datagram to the connected peer. Errors as send_to; EDESTADDRREQ when the socket
    /// is not connected.
    io_operation<detail::udp_send_op> send(std::span<const std::byte> data, std::stop_token token = {}) {
        return h_.perform(interest::write, detail::udp_send_op{this, data, std::nullopt},
                          std::move(token));
    }
    /// Sends up to min(datagrams.size(), max_batch) datagrams with one sendmmsg, waiting until
    /// the socket takes at least one. Returns how many were sent: always the first ones, the
    /// rest untouched (call again with them). Errors as send_to, for the first datagram (a
    /// later one's error is reported by the next call); every destination is checked first, so
    /// EAFNOSUPPORT sends none; EINVAL for an empty batch; ENOMEM as recv_many.
    io_operation<detail::udp_send_many_op> send_many(std::span<const outgoing_datagram> datagrams,
                                                     std::stop_token token = {}) {
        return h_.perform(interest::write, detail::udp_send_many_op{this, datagrams},
                          std::move(token));
    }

    /// One attempt of recv_from that never suspends: EAGAIN when no datagram is queued.
    result<datagram_info> try_recv_from(std::span<std::byte> buf) noexcept;
    /// One attempt of send_to (`to` nullopt: send) that never suspends: EAGAIN when the
    /// socket's send buffer is full.
    result<std::size_t> try_send_to(std::span<const std::byte> data,
                                    const std::optional<endpoint>& to) noexcept;
    /// One attempt of recv_many that never suspends: EAGAIN when no datagram is queued.
    result<std::size_t> try_recv_many(std::span<datagram_slot> slots) noexcept;
    /// One attempt of send_many that never suspends: EAGAIN when none could be sent.
    result<std::size_t> try_send_many(std::span<const outgoing_datagram> datagrams) noexcept;

    /// SO_BROADCAST: whether datagrams may go to broadcast addresses (else EACCES).
    result<void> set_broadcast(bool on) noexcept;
    /// Joins the multicast `group` on the interface with index `interface_index` (0: the one
    /// the routing table picks; if_nametoindex gives an index). Datagrams sent to the group
    /// and this socket's port arrive here. Errors: EAFNOSUPPORT (`group` of the other family),
    /// EINVAL (not a multicast address), ENODEV (no such interface or no multicast route),
    /// EADDRINUSE (already joined there), ENOBUFS (too many groups).
    result<void> join_multicast(const ip_address& group, std::uint32_t interface_index = 0) noexcept;
    /// Leaves a group joined with join_multicast. Errors: as join; EADDRNOTAVAIL (not joined).
    result<void> leave_multicast(const ip_address& group, std::uint32_t interface_index = 0) noexcept;
    /// Whether this host's own multicast datagrams are looped back to its sockets (default on).
    result<void> set_multicast_loop(bool on) noexcept;
    /// How many routers multicast datagrams may cross (TTL or hop limit; default 1, 0 keeps
    /// them on this host). Errors: EINVAL outside 0..255.
    result<void> set_multicast_hops(int hops) noexcept;
    /// The interface multicast datagrams leave by (0: the routing table's choice).
    /// Errors: ENODEV (no such interface).
    result<void> set_multicast_interface(std::uint32_t interface_index) noexcept;
    /// SO_RCVBUF / SO_SNDBUF: the kernel's queue for this socket, in bytes (it doubles the value
    /// and caps it at net.core.rmem_max / wmem_max). A bigger receive queue rides out bursts.
    result<void> set_receive_buffer_size(std::size_t bytes) noexcept;
    result<void> set_send_buffer_size(std::size_t bytes) noexcept;

    /// The bound address, with the port the kernel chose. Errors: EBADF when closed.
    result<endpoint> local_endpoint() const;
    /// The connected peer. Errors: ENOTCONN when not connected, EBADF when closed.
    result<endpoint> remote_endpoint() const;
    address_family family() const noexcept { return family_; }

    /// Closes now; a pending operation resumes with errc::closed.
    result<void> close() noexcept { return h_.close(); }
    bool is_open() const noexcept { return h_.is_open(); }
    io_handle& handle() noexcept { return h_; }

private:
    udp_socket(io_handle h, address_family family, bool v6_only) noexcept;
    static result<udp_socket> create(address_family family, const udp_options& options);

    io_handle h_;
    address_family family_ = address_family::v4;
    bool v6_only_ = false;         // an IPv6 socket that refuses IPv4 peers
    detail::udp_batch_ptr recv_batch_;  // recv_many's headers; recv and send each own theirs,
    detail::udp_batch_ptr send_batch_;  // so a receive and a send may be pending together
};

}  // namespace corio::net
