// SPDX-License-Identifier: MIT
// socket_pair: two connected, non-blocking AF_UNIX stream sockets, closed when it goes away
// (fd_pair: the ownership of two descriptors, for other kinds of pairs).
#pragma once

#include <cerrno>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace corio_test {

/// Two descriptors owned together, closed when it goes away; take() hands one over (e.g. to an
/// io_handle). The pairs below differ only in how they connect them.
class fd_pair {
public:
    fd_pair() = default;
    fd_pair(const fd_pair&) = delete;
    fd_pair& operator=(const fd_pair&) = delete;
    ~fd_pair() {
        close(0);
        close(1);
    }

    int fd(int end) const noexcept { return fds_[end]; }
    /// Gives up ownership of one end.
    int take(int end) noexcept { return std::exchange(fds_[end], -1); }
    void close(int end) noexcept {
        if (fds_[end] >= 0) {
            ::close(std::exchange(fds_[end], -1));
        }
    }

protected:
    int fds_[2] = {-1, -1};
};

/// socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC); throws std::system_error
/// if the kernel refuses.
class socket_pair : public fd_pair {
public:
    socket_pair() {
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds_) != 0) {
            throw std::system_error(errno, std::system_category(), "socketpair");
        }
    }
};

/// A connected loopback TCP pair; end 0 (the accepted one) is non-blocking, end 1 blocking.
/// Throws std::system_error if the kernel refuses. Closing one end sends a FIN, which the other
/// sees as EPOLLIN|EPOLLRDHUP without EPOLLHUP: under libkqueue that becomes EV_EOF only if
/// EPOLLRDHUP is watched (a socket pair's close is EPOLLHUP).
class tcp_pair : public fd_pair {
public:
    tcp_pair() {
        const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listener < 0) {
            throw std::system_error(errno, std::system_category(), "socket");
        }
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        auto* sa = reinterpret_cast<sockaddr*>(&a);
        const bool listening = ::bind(listener, sa, len) == 0 && ::listen(listener, 1) == 0 &&
                               ::getsockname(listener, sa, &len) == 0;
        fds_[1] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        // Blocking: the kernel completes a loopback handshake without accept().
        if (listening && fds_[1] >= 0 && ::connect(fds_[1], sa, len) == 0) {
            fds_[0] = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        }
        const int e = errno;
        ::close(listener);
        if (fds_[0] < 0) {
            throw std::system_error(e, std::system_category(), "loopback TCP pair");
        }
    }
};

inline std::span<const std::byte> as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline std::string as_string(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// One non-blocking send of `s` (small messages always fit an empty socket buffer); returns
/// what send(2) returned.
inline ssize_t send_text(int fd, std::string_view s) noexcept {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
}

/// One non-blocking recv of up to `max` bytes; "" on EAGAIN or end of stream.
inline std::string recv_text(int fd, std::size_t max = 4096) {
    std::string s(max, '\0');
    const ssize_t n = ::recv(fd, s.data(), s.size(), 0);
    s.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return s;
}

/// Sends until the socket buffer is full (EAGAIN); returns how many bytes went in.
inline std::size_t fill_send_buffer(int fd) {
    std::string chunk(64 * 1024, 'x');
    std::size_t total = 0;
    for (;;) {
        const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return total;
            }
            throw std::system_error(errno, std::system_category(), "send");
        }
        total += static_cast<std::size_t>(n);
    }
}

/// Reads until EAGAIN; returns how many bytes came out.
inline std::size_t drain(int fd) {
    std::string chunk(64 * 1024, '\0');
    std::size_t total = 0;
    for (;;) {
        const ssize_t n = ::recv(fd, chunk.data(), chunk.size(), 0);
        if (n <= 0) {
            return total;
        }
        total += static_cast<std::size_t>(n);
    }
}

}  // namespace corio_test
