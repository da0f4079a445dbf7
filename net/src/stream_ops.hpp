// SPDX-License-Identifier: MIT
// What TCP and Unix stream sockets do alike: accept with back-off, send_all, shutdown
// (private to corio::net).
#pragma once

#include <corio/io_handle.hpp>
#include <corio/result.hpp>
#include <corio/stream.hpp>
#include <corio/task.hpp>

#include <cstddef>
#include <span>
#include <stop_token>
#include <string_view>

namespace corio::net::detail {

/// The next connection on listening socket `h` as a descriptor, as tcp_listener::accept
/// documents: out of descriptors (or, on select, past FD_SETSIZE, after sending `refusal`
/// and closing the connection) it backs off 1 ms doubling to 100 ms and retries;
/// ECONNABORTED is skipped.
task<result<int>> accept_connection(io_handle& h, std::stop_token token, std::string_view refusal);

/// Sends all of `buf` on `h`, waiting as needed.
task<result<void>> send_all(io_handle& h, std::span<const std::byte> buf, std::stop_token token);

/// shutdown(2) of a connected socket.
result<void> shutdown_socket(int fd, shutdown_how how) noexcept;

}  // namespace corio::net::detail
