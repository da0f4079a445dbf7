// SPDX-License-Identifier: MIT
// Unix socket helpers: creation, binding with stale file removal, address queries.
#include "unix_socket.hpp"

#include <corio/net/owned_fd.hpp>

#include <cerrno>
#include <string>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace corio::net {

void owned_fd::reset(int fd) noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
    }
    fd_ = fd;
}

namespace detail {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

// A socket file is stale when connecting to it is refused: the socket that bound it has
// closed (a crashed server's leftover). A live listener accepts or, with a full backlog,
// says EAGAIN; a file of another kind is no socket to remove. Only ECONNREFUSED unlinks.
void remove_if_stale(const std::string& path, int type) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
        return;  // nothing there, or not a socket: bind decides
    }
    const int probe = ::socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe < 0) {
        return;
    }
    sockaddr_un sun{};
    const auto len = unix_address::from_path(path)->to_sockaddr(&sun, sizeof sun);
    if (::connect(probe, reinterpret_cast<const sockaddr*>(&sun), static_cast<socklen_t>(len)) != 0 &&
        errno == ECONNREFUSED) {
        (void)::unlink(path.c_str());
    }
    ::close(probe);
}

}  // namespace

void socket_file::remove() noexcept {
    if (path_.empty()) {
        return;
    }
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
        (void)::unlink(path_.c_str());
    }
    path_.clear();
}

result<int> open_unix_socket(int type) {
    const int fd = ::socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return last_error();
    }
    return fd;
}

result<std::pair<int, int>> open_unix_pair(int type) {
    int fds[2];
    if (::socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
        return last_error();
    }
    return std::pair{fds[0], fds[1]};
}

result<socket_file> bind_unix(int fd, int type, const unix_address& addr, unix_bind_plan plan) {
    if (addr.is_unnamed()) {
        return std::errc::invalid_argument;
    }
    const std::string path(addr.is_path() ? addr.name() : std::string_view());
    if (addr.is_path() && plan.remove_stale) {
        remove_if_stale(path, type);
    }
    sockaddr_un sun{};
    const auto len = addr.to_sockaddr(&sun, sizeof sun);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&sun), static_cast<socklen_t>(len)) != 0) {
        return last_error();
    }
    struct stat st {};
    if (!addr.is_path() || !plan.unlink_on_close || ::lstat(path.c_str(), &st) != 0) {
        return socket_file();
    }
    return socket_file(path, st.st_dev, st.st_ino);
}

result<unix_address> unix_socket_address(int fd, bool local) {
    if (fd < 0) {
        return std::errc::bad_file_descriptor;
    }
    sockaddr_un sun{};
    socklen_t len = sizeof sun;
    auto* sa = reinterpret_cast<sockaddr*>(&sun);
    if ((local ? ::getsockname(fd, sa, &len) : ::getpeername(fd, sa, &len)) != 0) {
        return last_error();
    }
    return unix_address::from_sockaddr(&sun, len);
}

}  // namespace detail
}  // namespace corio::net
