// SPDX-License-Identifier: MIT
// udp_socket: creation, one-datagram and batch attempts (recvmsg/recvmmsg, sendto/sendmmsg).
#include <corio/net/udp_socket.hpp>

#include "socket.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <new>
#include <utility>

#include <netinet/in.h>
#include <sys/socket.h>

namespace corio::net {

namespace detail {
struct udp_batch {
    std::array<mmsghdr, udp_socket::max_batch> headers;
    std::array<iovec, udp_socket::max_batch> iov;
    std::array<sockaddr_storage, udp_socket::max_batch> names;
};
void udp_batch_deleter::operator()(udp_batch* b) const noexcept { delete b; }

result<datagram_info> udp_recv_op::operator()() const noexcept { return s->try_recv_from(buf); }
result<std::size_t> udp_send_op::operator()() const noexcept { return s->try_send_to(data, to); }
result<std::size_t> udp_recv_many_op::operator()() const noexcept {
    return s->try_recv_many(slots);
}
result<std::size_t> udp_send_many_op::operator()() const noexcept {
    return s->try_send_many(datagrams);
}
result<pooled_datagram> udp_pooled_recv_op::operator()() const noexcept {
    std::byte* storage = corio::detail::pool_take();
    auto info = s->try_recv_from(std::span<std::byte>(storage, pooled_buffer::capacity()));
    if (!info) {
        corio::detail::pool_give(storage);  // a socket waiting for datagrams holds no buffer
        return info.error();
    }
    return pooled_datagram{pooled_buffer(storage, info->size), *info};
}
}  // namespace detail

namespace {

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

// The scratch headers of one direction, allocated at its first batch. nullptr: out of memory.
detail::udp_batch* scratch(detail::udp_batch_ptr& p) noexcept {
    if (!p) {
        p.reset(new (std::nothrow) detail::udp_batch);
    }
    return p.get();
}

result<void> set_int(int fd, int level, int name, int value) noexcept {
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
        return last_error();
    }
    return {};
}

// The sockaddr a datagram to `to` needs on a socket of `family`: IPv4 on a dual-stack IPv6
// socket goes v4-mapped; any other mix is refused here, so the error does not depend on which
// of EINVAL, ENETUNREACH or EAFNOSUPPORT the kernel's path for it happens to give.
result<socklen_t> native(const endpoint& to, address_family family, bool v6_only,
                         sockaddr_storage& out) noexcept {
    endpoint ep = to;
    if (family == address_family::v6 && to.address().is_v4()) {
        if (v6_only) {
            return std::errc::address_family_not_supported;
        }
        ep = endpoint(to.address().map_to_v6(), to.port());
    } else if (family == address_family::v4 && to.address().is_v6()) {
        return std::errc::address_family_not_supported;
    }
    return static_cast<socklen_t>(ep.to_sockaddr(&out, sizeof out));
}

datagram_info info_of(std::size_t full, std::size_t capacity, const sockaddr_storage& from,
                      socklen_t from_len) noexcept {
    datagram_info info;
    info.length = full;  // MSG_TRUNC makes the kernel report the datagram's real length
    info.size = std::min(full, capacity);
    info.sender = endpoint::from_sockaddr(&from, from_len).value_or(endpoint{});
    return info;
}

}  // namespace

udp_socket::udp_socket(io_handle h, address_family family, bool v6_only) noexcept
    : h_(std::move(h)), family_(family), v6_only_(v6_only) {}

result<udp_socket> udp_socket::create(address_family family, const udp_options& options) {
    const endpoint any(family == address_family::v4 ? ip_address::v4_any() : ip_address::v6_any(), 0);
    auto fd = detail::open_socket(any, SOCK_DGRAM);
    if (!fd) {
        return fd.error();
    }
    io_handle h(*fd);
    if (options.reuse_address) {
        if (auto r = set_int(*fd, SOL_SOCKET, SO_REUSEADDR, 1); !r) {
            return r.error();
        }
    }
    if (options.reuse_port) {
        if (auto r = set_int(*fd, SOL_SOCKET, SO_REUSEPORT, 1); !r) {
            return r.error();
        }
    }
    if (family == address_family::v6) {
        // Set either way: the system default (net.ipv6.bindv6only) must not decide it.
        if (auto r = set_int(*fd, IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only ? 1 : 0); !r) {
            return r.error();
        }
    }
    return udp_socket(std::move(h), family, family == address_family::v6 && options.v6_only);
}

result<udp_socket> udp_socket::open(address_family family, udp_options options) {
    return create(family, options);
}

result<udp_socket> udp_socket::bind(const endpoint& local, udp_options options) {
    auto s = create(local.address().family(), options);
    if (!s) {
        return s.error();
    }
    sockaddr_storage ss{};
    const auto len = local.to_sockaddr(&ss, sizeof ss);
    if (::bind(s->h_.fd(), reinterpret_cast<const sockaddr*>(&ss), static_cast<socklen_t>(len)) != 0) {
        return last_error();
    }
    return s;
}

result<void> udp_socket::connect(const endpoint& peer) noexcept {
    sockaddr_storage ss{};
    auto len = native(peer, family_, v6_only_, ss);
    if (!len) {
        return len.error();
    }
    int r = 0;
    do {  // EINTR, here and below: the call is retried, never reported
        r = ::connect(h_.fd(), reinterpret_cast<sockaddr*>(&ss), *len);
    } while (r != 0 && errno == EINTR);
    if (r != 0) {
        return last_error();
    }
    return {};
}

result<void> udp_socket::disconnect() noexcept {
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    if (::connect(h_.fd(), &unspec, sizeof unspec) != 0) {
        return last_error();
    }
    return {};
}

result<datagram_info> udp_socket::try_recv_from(std::span<std::byte> buf) noexcept {
    sockaddr_storage from{};
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = 0;
    do {
        n = ::recvmsg(h_.fd(), &msg, MSG_TRUNC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return last_error();
    }
    return info_of(static_cast<std::size_t>(n), buf.size(), from, msg.msg_namelen);
}

result<std::size_t> udp_socket::try_send_to(std::span<const std::byte> data,
                                            const std::optional<endpoint>& to) noexcept {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (to) {
        auto n = native(*to, family_, v6_only_, ss);
        if (!n) {
            return n.error();
        }
        len = *n;
    }
    const sockaddr* dest = to ? reinterpret_cast<const sockaddr*>(&ss) : nullptr;
    ssize_t sent = 0;
    do {
        sent = ::sendto(h_.fd(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT, dest, len);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        return last_error();
    }
    return static_cast<std::size_t>(sent);
}

result<std::size_t> udp_socket::try_recv_many(std::span<datagram_slot> slots) noexcept {
    if (slots.empty()) {
        return std::errc::invalid_argument;
    }
    detail::udp_batch* batch = scratch(recv_batch_);
    if (!batch) {
        return std::errc::not_enough_memory;
    }
    detail::udp_batch& b = *batch;
    const std::size_t count = std::min(slots.size(), max_batch);
    for (std::size_t i = 0; i < count; ++i) {
        b.iov[i] = {slots[i].buffer.data(), slots[i].buffer.size()};
        b.headers[i] = {};
        b.headers[i].msg_hdr.msg_name = &b.names[i];
        b.headers[i].msg_hdr.msg_namelen = sizeof b.names[i];
        b.headers[i].msg_hdr.msg_iov = &b.iov[i];
        b.headers[i].msg_hdr.msg_iovlen = 1;
    }
    int n = 0;
    do {
        n = ::recvmmsg(h_.fd(), b.headers.data(), static_cast<unsigned>(count),
                       MSG_TRUNC | MSG_DONTWAIT, nullptr);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return last_error();
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        slots[i].info = info_of(b.headers[i].msg_len, slots[i].buffer.size(), b.names[i],
                                b.headers[i].msg_hdr.msg_namelen);
    }
    return static_cast<std::size_t>(n);
}

result<std::size_t> udp_socket::try_send_many(std::span<const outgoing_datagram> datagrams) noexcept {
    if (datagrams.empty()) {
        return std::errc::invalid_argument;
    }
    detail::udp_batch* batch = scratch(send_batch_);
    if (!batch) {
        return std::errc::not_enough_memory;
    }
    detail::udp_batch& b = *batch;
    const std::size_t count = std::min(datagrams.size(), max_batch);
    for (std::size_t i = 0; i < count; ++i) {
        const outgoing_datagram& d = datagrams[i];
        b.iov[i] = {const_cast<std::byte*>(d.data.data()), d.data.size()};
        b.headers[i] = {};
        b.headers[i].msg_hdr.msg_iov = &b.iov[i];
        b.headers[i].msg_hdr.msg_iovlen = 1;
        if (d.to) {
            auto len = native(*d.to, family_, v6_only_, b.names[i]);
            if (!len) {
                return len.error();  // checked before anything is sent: none of them goes
            }
            b.headers[i].msg_hdr.msg_name = &b.names[i];
            b.headers[i].msg_hdr.msg_namelen = *len;
        }
    }
    int n = 0;
    do {
        n = ::sendmmsg(h_.fd(), b.headers.data(), static_cast<unsigned>(count),
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return last_error();
    }
    return static_cast<std::size_t>(n);
}

result<void> udp_socket::set_broadcast(bool on) noexcept {
    return set_int(h_.fd(), SOL_SOCKET, SO_BROADCAST, on ? 1 : 0);
}

namespace {
result<void> membership(int fd, address_family family, const ip_address& group,
                        std::uint32_t interface_index, int v4_name, int v6_name) noexcept {
    if (group.family() != family) {
        return std::errc::address_family_not_supported;
    }
    if (!group.is_multicast()) {
        return std::errc::invalid_argument;
    }
    // MCAST_JOIN_GROUP (RFC 3678) takes an interface index for both families alike.
    group_req req{};
    req.gr_interface = interface_index;
    (void)endpoint(group, 0).to_sockaddr(&req.gr_group, sizeof req.gr_group);
    const int level = family == address_family::v4 ? IPPROTO_IP : IPPROTO_IPV6;
    const int name = family == address_family::v4 ? v4_name : v6_name;
    if (::setsockopt(fd, level, name, &req, sizeof req) != 0) {
        return last_error();
    }
    return {};
}
}  // namespace

result<void> udp_socket::join_multicast(const ip_address& group, std::uint32_t interface_index) noexcept {
    return membership(h_.fd(), family_, group, interface_index, MCAST_JOIN_GROUP, MCAST_JOIN_GROUP);
}

result<void> udp_socket::leave_multicast(const ip_address& group, std::uint32_t interface_index) noexcept {
    return membership(h_.fd(), family_, group, interface_index, MCAST_LEAVE_GROUP, MCAST_LEAVE_GROUP);
}

result<void> udp_socket::set_multicast_loop(bool on) noexcept {
    if (family_ == address_family::v4) {
        return set_int(h_.fd(), IPPROTO_IP, IP_MULTICAST_LOOP, on ? 1 : 0);
    }
    return set_int(h_.fd(), IPPROTO_IPV6, IPV6_MULTICAST_LOOP, on ? 1 : 0);
}

result<void> udp_socket::set_multicast_hops(int hops) noexcept {
    if (hops < 0 || hops > 255) {
        return std::errc::invalid_argument;  // IPV6_MULTICAST_HOPS would take -1 ("default")
    }
    if (family_ == address_family::v4) {
        return set_int(h_.fd(), IPPROTO_IP, IP_MULTICAST_TTL, hops);
    }
    return set_int(h_.fd(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, hops);
}

result<void> udp_socket::set_multicast_interface(std::uint32_t interface_index) noexcept {
    if (interface_index > INT_MAX) {
        return std::errc::no_such_device;  // no interface has such an index
    }
    const int index = static_cast<int>(interface_index);
    if (family_ == address_family::v6) {
        return set_int(h_.fd(), IPPROTO_IPV6, IPV6_MULTICAST_IF, index);
    }
    ip_mreqn req{};  // by index, as IPv6 does (ip_mreqn's address left 0.0.0.0)
    req.imr_ifindex = index;
    if (::setsockopt(h_.fd(), IPPROTO_IP, IP_MULTICAST_IF, &req, sizeof req) != 0) {
        if (errno == EADDRNOTAVAIL) {
            return std::errc::no_such_device;  // IPv4's word for an unknown index; as IPv6 says
        }
        return last_error();
    }
    return {};
}

result<void> udp_socket::set_receive_buffer_size(std::size_t bytes) noexcept {
    return set_int(h_.fd(), SOL_SOCKET, SO_RCVBUF, static_cast<int>(std::min<std::size_t>(bytes, INT_MAX)));
}

result<void> udp_socket::set_send_buffer_size(std::size_t bytes) noexcept {
    return set_int(h_.fd(), SOL_SOCKET, SO_SNDBUF, static_cast<int>(std::min<std::size_t>(bytes, INT_MAX)));
}

result<endpoint> udp_socket::local_endpoint() const { return detail::socket_endpoint(h_.fd(), true); }
result<endpoint> udp_socket::remote_endpoint() const {
    return detail::socket_endpoint(h_.fd(), false);
}

}  // namespace corio::net
