// SPDX-License-Identifier: MIT
// unix_datagram: bind, connect, send_to with back-off, and receives that report truncation.
#include <corio/net/unix_datagram.hpp>

#include <corio/timer.hpp>

#include "unix_socket.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <sys/socket.h>
#include <sys/un.h>

namespace corio::net {
namespace {
std::error_code last_error() { return {errno, std::system_category()}; }
}  // namespace

result<std::size_t> detail::dgram_send_op::operator()() const noexcept {
    for (;;) {
        const ssize_t n = ::sendto(fd, buf.data(), buf.size(), MSG_NOSIGNAL,
                                   static_cast<const sockaddr*>(addr), static_cast<socklen_t>(len));
        if (n >= 0) {
            return static_cast<std::size_t>(n);
        }
        if (errno != EINTR) {
            return last_error();
        }
    }
}

result<unix_datagram_info> detail::dgram_recv_op::operator()() const noexcept {
    sockaddr_un from{};
    socklen_t from_len = sizeof from;
    ssize_t n;
    do {
        // MSG_TRUNC: the return value is the datagram's real length, even when longer.
        n = ::recvfrom(fd, buf.data(), buf.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from),
                       &from_len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return last_error();
    }
    unix_datagram_info info;
    info.full_size = static_cast<std::size_t>(n);
    info.size = std::min(info.full_size, buf.size());
    if (auto peer = unix_address::from_sockaddr(&from, from_len)) {
        info.peer = std::move(*peer);
    }
    return info;
}

result<unix_datagram> unix_datagram::bind(const unix_address& local, unix_bind_options options) {
    auto fd = detail::open_unix_socket(SOCK_DGRAM);
    if (!fd) {
        return fd.error();
    }
    io_handle h(*fd);
    auto file = detail::bind_unix(*fd, SOCK_DGRAM, local,
                                  {options.remove_stale, options.unlink_on_close});
    if (!file) {
        return file.error();
    }
    return unix_datagram(std::move(h), std::move(*file));
}

result<unix_datagram> unix_datagram::open() {
    auto fd = detail::open_unix_socket(SOCK_DGRAM);
    if (!fd) {
        return fd.error();
    }
    return unix_datagram(io_handle(*fd), {});
}

result<std::pair<unix_datagram, unix_datagram>> unix_datagram::pair() {
    auto fds = detail::open_unix_pair(SOCK_DGRAM);
    if (!fds) {
        return fds.error();
    }
    return std::pair{unix_datagram(io_handle(fds->first), {}),
                     unix_datagram(io_handle(fds->second), {})};
}

result<void> unix_datagram::connect(const unix_address& peer) {
    if (peer.is_unnamed()) {
        return std::errc::invalid_argument;
    }
    sockaddr_un sun{};
    const auto len = peer.to_sockaddr(&sun, sizeof sun);
    if (::connect(h_.fd(), reinterpret_cast<const sockaddr*>(&sun), static_cast<socklen_t>(len)) != 0) {
        return last_error();
    }
    return {};
}

namespace {
// One sendto that reports EAGAIN as ENOBUFS, so perform() returns it instead of parking
// for a writability that is already there (the receiver's queue is what is full).
struct send_once_op {
    detail::dgram_send_op op;
    result<std::size_t> operator()() const noexcept {
        auto sent = op();
        if (!sent && corio::detail::would_block(sent.error())) {
            return std::errc::no_buffer_space;
        }
        return sent;
    }
};
}  // namespace

task<result<std::size_t>> unix_datagram::send_to(std::span<const std::byte> buf,
                                                 const unix_address& peer, std::stop_token token) {
    if (peer.is_unnamed()) {
        co_return std::errc::invalid_argument;
    }
    sockaddr_un sun{};
    const auto len = peer.to_sockaddr(&sun, sizeof sun);
    auto backoff = std::chrono::milliseconds(1);
    for (;;) {
        auto sent = co_await h_.perform(interest::write,
                                        send_once_op{detail::dgram_send_op{h_.fd(), buf, &sun, len}},
                                        token);
        if (sent || sent.error() != std::errc::no_buffer_space) {
            co_return sent;
        }
        // The next attempt waits for writability first (the socket's own buffer may be what is
        // full), then for the back-off (the receiver's queue).
        h_.clear_ready(interest::write);
        if (auto slept = co_await sleep_for(backoff, token); !slept) {
            co_return slept.error();
        }
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::milliseconds(50));
    }
}

result<unix_address> unix_datagram::local_address() const {
    return detail::unix_socket_address(h_.fd(), true);
}
result<unix_address> unix_datagram::remote_address() const {
    return detail::unix_socket_address(h_.fd(), false);
}

result<void> unix_datagram::close() noexcept { return detail::close_bound(h_, file_); }

}  // namespace corio::net
