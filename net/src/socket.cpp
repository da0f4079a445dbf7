// SPDX-License-Identifier: MIT
// Socket creation and address queries.
#include "socket.hpp"

#include <cerrno>

#include <sys/socket.h>

namespace corio::net::detail {

result<int> open_socket(const endpoint& ep, int type) {
    const int family = ep.address().is_v4() ? AF_INET : AF_INET6;
    const int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return std::error_code(errno, std::system_category());
    }
    return fd;
}

result<endpoint> socket_endpoint(int fd, bool local) {
    if (fd < 0) {
        return std::errc::bad_file_descriptor;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    auto* sa = reinterpret_cast<sockaddr*>(&ss);
    if ((local ? ::getsockname(fd, sa, &len) : ::getpeername(fd, sa, &len)) != 0) {
        return std::error_code(errno, std::system_category());
    }
    return endpoint::from_sockaddr(&ss, len);
}

}  // namespace corio::net::detail
