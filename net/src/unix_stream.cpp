// SPDX-License-Identifier: MIT
// unix_stream: connect, socketpair, send_all, shutdown, peer credentials and addresses.
#include <corio/net/unix_stream.hpp>

#include <corio/cancel.hpp>
#include <corio/timer.hpp>

#include "stream_ops.hpp"
#include "unix_socket.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>

#include <sys/socket.h>
#include <sys/un.h>

namespace corio::net {
namespace {

// A Unix stream connect completes (or fails) at once; the one case that waits is a listener
// whose backlog is full (EAGAIN), and no readiness event says when it has room, so it retries
// with back-off, as a blocking connect would sleep in the kernel.
task<result<void>> connect_socket(int fd, const unix_address& peer, std::stop_token token) {
    sockaddr_un sun{};
    const auto len = peer.to_sockaddr(&sun, sizeof sun);
    auto backoff = std::chrono::milliseconds(1);
    for (;;) {
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&sun), static_cast<socklen_t>(len)) == 0) {
            co_return result<void>{};
        }
        const int e = errno;
        if (e != EAGAIN && e != EINTR) {
            co_return std::error_code(e, std::system_category());
        }
        if (auto slept = co_await sleep_for(backoff, token); !slept) {
            co_return slept.error();
        }
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::milliseconds(100));
    }
}

}  // namespace

task<result<unix_stream>> unix_stream::connect(unix_address peer, clock_type::duration timeout,
                                               std::stop_token token) {
    if (peer.is_unnamed()) {
        co_return std::errc::invalid_argument;
    }
    // A Unix connect usually completes at once; a stopped token still means "do not connect",
    // as for TCP.
    const std::stop_token ambient = co_await this_task::stop_token();
    if (token.stop_requested() || ambient.stop_requested()) {
        co_return std::errc::operation_canceled;
    }
    auto fd = detail::open_unix_socket(SOCK_STREAM);
    if (!fd) {
        co_return fd.error();
    }
    io_handle h(*fd);
    result<void> connected;
    if (timeout > clock_type::duration::zero()) {
        connected = co_await with_timeout(timeout, connect_socket(*fd, peer, std::move(token)));
    } else {
        connected = co_await connect_socket(*fd, peer, std::move(token));
    }
    if (!connected) {
        co_return connected.error();
    }
    co_return unix_stream(std::move(h));
}

result<std::pair<unix_stream, unix_stream>> unix_stream::pair() {
    auto fds = detail::open_unix_pair(SOCK_STREAM);
    if (!fds) {
        return fds.error();
    }
    return std::pair{unix_stream(io_handle(fds->first)), unix_stream(io_handle(fds->second))};
}

task<result<void>> unix_stream::send_all(std::span<const std::byte> buf, std::stop_token token) {
    return detail::send_all(h_, buf, std::move(token));
}

result<void> unix_stream::shutdown(shutdown_how how) noexcept {
    return detail::shutdown_socket(h_.fd(), how);
}

result<credentials> unix_stream::peer_credentials() const {
    if (h_.fd() < 0) {
        return std::errc::bad_file_descriptor;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(h_.fd(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        return std::error_code(errno, std::system_category());
    }
    return credentials{cred.pid, cred.uid, cred.gid};
}

result<unix_address> unix_stream::local_address() const {
    return detail::unix_socket_address(h_.fd(), true);
}
result<unix_address> unix_stream::remote_address() const {
    return detail::unix_socket_address(h_.fd(), false);
}

}  // namespace corio::net
