// SPDX-License-Identifier: MIT
// Non-blocking system call wrappers: EINTR retried inside, errno returned as a value.
#pragma once

#include <corio/result.hpp>

#include <cstddef>
#include <span>

namespace corio {

/// A read-only byte range, laid out as struct iovec so a span of them goes to writev as is.
struct const_buffer {
    const void* data;
    std::size_t size;
};

namespace detail {

bool would_block(std::error_code e) noexcept;

result<std::size_t> sys_read(int fd, void* buf, std::size_t len) noexcept;
result<std::size_t> sys_recv(int fd, void* buf, std::size_t len) noexcept;
/// send(2) with MSG_NOSIGNAL: a closed peer gives EPIPE, never SIGPIPE.
result<std::size_t> sys_send(int fd, const void* buf, std::size_t len) noexcept;
/// IOV_MAX: the most buffers one writev or sendmsg takes (more are sent by a later call).
std::size_t max_iov() noexcept;
result<std::size_t> sys_writev(int fd, std::span<const const_buffer> bufs) noexcept;
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC; the peer address goes to `addr` if non-null.
result<int> sys_accept(int fd, void* addr, std::size_t* addr_len) noexcept;
/// The pending error of a socket (SO_ERROR): success when there is none.
result<void> sys_socket_error(int fd) noexcept;
result<void> sys_set_nonblocking(int fd) noexcept;
result<void> sys_close(int fd) noexcept;

}  // namespace detail
}  // namespace corio
