// SPDX-License-Identifier: MIT
// Socket creation and address queries shared by the net types (private to corio::net).
#pragma once

#include <corio/net/address.hpp>
#include <corio/result.hpp>

namespace corio::net::detail {

/// socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC for the endpoint's family.
result<int> open_socket(const endpoint& ep, int type);
/// getsockname (local) or getpeername (remote) as an endpoint.
result<endpoint> socket_endpoint(int fd, bool local);

}  // namespace corio::net::detail
