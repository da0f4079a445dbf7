// SPDX-License-Identifier: MIT
// System call wrappers used by io_handle operations.
#include <corio/detail/sys.hpp>

#include <algorithm>
#include <cerrno>

#include <climits>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace corio::detail {
namespace {
static_assert(sizeof(const_buffer) == sizeof(iovec) &&
              offsetof(const_buffer, data) == offsetof(iovec, iov_base) &&
              offsetof(const_buffer, size) == offsetof(iovec, iov_len));

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

template <class Call>
auto retry_eintr(Call call) noexcept {
    for (;;) {
        auto r = call();
        if (r >= 0 || errno != EINTR) {
            return r;
        }
    }
}
}  // namespace

bool would_block(std::error_code e) noexcept {
    return e.category() == std::system_category() && (e.value() == EAGAIN || e.value() == EWOULDBLOCK);
}

result<std::size_t> sys_read(int fd, void* buf, std::size_t len) noexcept {
    const ssize_t n = retry_eintr([&] { return ::read(fd, buf, len); });
    if (n < 0) {
        return last_error();
    }
    return static_cast<std::size_t>(n);
}

result<std::size_t> sys_recv(int fd, void* buf, std::size_t len) noexcept {
    const ssize_t n = retry_eintr([&] { return ::recv(fd, buf, len, 0); });
    if (n < 0) {
        return last_error();
    }
    return static_cast<std::size_t>(n);
}

result<std::size_t> sys_send(int fd, const void* buf, std::size_t len) noexcept {
    const ssize_t n = retry_eintr([&] { return ::send(fd, buf, len, MSG_NOSIGNAL); });
    if (n < 0) {
        return last_error();
    }
    return static_cast<std::size_t>(n);
}

std::size_t max_iov() noexcept { return IOV_MAX; }

result<std::size_t> sys_writev(int fd, std::span<const const_buffer> bufs) noexcept {
    // sendmsg rather than writev: writev on a socket whose peer is gone raises SIGPIPE.
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(reinterpret_cast<const iovec*>(bufs.data()));
    msg.msg_iovlen = std::min(bufs.size(), max_iov());
    const ssize_t n = retry_eintr([&] { return ::sendmsg(fd, &msg, MSG_NOSIGNAL); });
    if (n < 0) {
        if (errno == ENOTSOCK) {  // pipes and files: plain writev
            const ssize_t w = retry_eintr([&] {
                return ::writev(fd, msg.msg_iov, static_cast<int>(msg.msg_iovlen));
            });
            if (w >= 0) {
                return static_cast<std::size_t>(w);
            }
        }
        return last_error();
    }
    return static_cast<std::size_t>(n);
}

result<int> sys_accept(int fd, void* addr, std::size_t* addr_len) noexcept {
    socklen_t len = addr_len ? static_cast<socklen_t>(*addr_len) : 0;
    const int c = retry_eintr([&] {
        return ::accept4(fd, static_cast<sockaddr*>(addr), addr ? &len : nullptr,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
    });
    if (c < 0) {
        return last_error();
    }
    if (addr_len) {
        *addr_len = len;
    }
    return c;
}

result<void> sys_socket_error(int fd) noexcept {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        return last_error();
    }
    if (err != 0) {
        return std::error_code(err, std::system_category());
    }
    return {};
}

result<void> sys_set_nonblocking(int fd) noexcept {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        return last_error();
    }
    return {};
}

result<void> sys_close(int fd) noexcept {
    // Linux releases the descriptor even when close reports EINTR, so it is never retried.
    if (::close(fd) != 0 && errno != EINTR) {
        return last_error();
    }
    return {};
}

}  // namespace corio::detail
