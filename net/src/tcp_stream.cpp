// SPDX-License-Identifier: MIT
// tcp_stream: connect, send_all, pooled receive and socket options.
#include <corio/cancel.hpp>
#include <corio/net/tcp_stream.hpp>

#include "socket.hpp"
#include "stream_ops.hpp"

#include <cerrno>
#include <utility>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace corio::net {

result<pooled_buffer> detail::pooled_recv_op::operator()() const noexcept {
    std::byte* storage = corio::detail::pool_take();
    auto n = h->try_recv(std::span<std::byte>(storage, pooled_buffer::capacity()));
    pooled_buffer buf(storage, n ? *n : 0);
    if (!n || *n == 0) {
        buf.reset();  // nothing received: an idle or closed connection keeps no buffer
        if (!n) {
            return n.error();
        }
    }
    return buf;
}

result<pooled_buffer> detail::pooled_recv_op::complete(corio::detail::completion& c) const noexcept {
    pooled_buffer buf(std::exchange(c.buffer, nullptr), c.res > 0 ? static_cast<std::size_t>(c.res) : 0);
    if (c.res <= 0) {
        buf.reset();
        if (c.res < 0) {
            return std::error_code(-c.res, std::system_category());
        }
    }
    return buf;
}

namespace {
task<result<void>> connect_handle(io_handle& h, const sockaddr_storage& ss, std::size_t len,
                                  std::stop_token token) {
    co_return co_await h.connect(&ss, len, std::move(token));
}
}  // namespace

task<result<tcp_stream>> tcp_stream::connect(endpoint peer, clock_type::duration timeout,
                                             std::stop_token token) {
    auto fd = detail::open_socket(peer, SOCK_STREAM);
    if (!fd) {
        co_return fd.error();
    }
    io_handle h(*fd);
    sockaddr_storage ss{};
    const auto len = peer.to_sockaddr(&ss, sizeof ss);
    // Two statements, not ?: — g++ 12 destroys the temporaries of a co_await in a
    // conditional expression wrongly (a double free in the HTTP server showed it).
    result<void> connected;
    if (timeout > clock_type::duration::zero()) {
        connected = co_await with_timeout(timeout, connect_handle(h, ss, len, std::move(token)));
    } else {
        connected = co_await h.connect(&ss, len, std::move(token));
    }
    if (!connected) {
        co_return connected.error();
    }
    co_return tcp_stream(std::move(h));
}

task<result<void>> tcp_stream::send_all(std::span<const std::byte> buf, std::stop_token token) {
    return detail::send_all(h_, buf, std::move(token));
}

result<void> tcp_stream::shutdown(shutdown_how how) noexcept {
    return detail::shutdown_socket(h_.fd(), how);
}

result<void> tcp_stream::set_nodelay(bool on) noexcept {
    const int v = on ? 1 : 0;
    if (::setsockopt(h_.fd(), IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0) {
        return std::error_code(errno, std::system_category());
    }
    return {};
}

result<endpoint> tcp_stream::local_endpoint() const { return detail::socket_endpoint(h_.fd(), true); }
result<endpoint> tcp_stream::remote_endpoint() const {
    return detail::socket_endpoint(h_.fd(), false);
}

}  // namespace corio::net
