// SPDX-License-Identifier: MIT
// Unix socket creation, binding (stale socket files, unlink on close) and address queries
// shared by unix_listener, unix_stream and unix_datagram (private to corio::net).
#pragma once

#include <corio/net/detail/socket_file.hpp>
#include <corio/net/unix_address.hpp>
#include <corio/result.hpp>

namespace corio::net::detail {

/// socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC).
result<int> open_unix_socket(int type);

/// How bind_unix treats the file system.
struct unix_bind_plan {
    bool remove_stale = false;     ///< unlink a socket file nobody listens on first
    bool unlink_on_close = true;   ///< the returned socket_file removes the file it made
};

/// Binds `fd` (of socket type `type`) to `addr`. For a path: with remove_stale, a socket
/// file that refuses a connection (ECONNREFUSED: no socket is bound to it any more) is
/// unlinked first; anything else there (a live socket, a regular file) is left, and bind
/// fails with EADDRINUSE. The socket_file returned is empty unless unlink_on_close and a path.
/// Errors: std::errc::invalid_argument for an unnamed address; bind(2)'s.
result<socket_file> bind_unix(int fd, int type, const unix_address& addr, unix_bind_plan plan);

/// getsockname (local) or getpeername (remote) as a unix_address.
result<unix_address> unix_socket_address(int fd, bool local);

/// socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC).
result<std::pair<int, int>> open_unix_pair(int type);

}  // namespace corio::net::detail
