// SPDX-License-Identifier: MIT
// unix_stream's descriptor passing: sendmsg/recvmsg with SCM_RIGHTS control messages.
#include <corio/net/unix_stream.hpp>

#include <corio/error.hpp>

#include <cerrno>
#include <cstring>

#include <sys/socket.h>

namespace corio::net::detail {
namespace {

// Room for the most descriptors one message carries, aligned as the CMSG macros expect.
union control_buffer {
    cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(int) * max_fds_per_message)];
};

std::error_code last_error() { return {errno, std::system_category()}; }

}  // namespace

result<std::size_t> send_fds_op::operator()() const noexcept {
    if (buf.empty() || fds.size() > max_fds_per_message) {
        return std::errc::invalid_argument;  // a stream carries descriptors only with bytes
    }
    iovec iov{const_cast<std::byte*>(buf.data()), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    control_buffer control{};
    if (!fds.empty()) {
        msg.msg_control = control.bytes;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (;;) {
        const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            return static_cast<std::size_t>(n);
        }
        if (errno != EINTR) {
            return last_error();
        }
    }
}

result<received_fds> recv_fds_op::operator()() const noexcept {
    if (max_fds > max_fds_per_message) {
        return std::errc::invalid_argument;
    }
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    control_buffer control{};
    if (max_fds > 0) {
        msg.msg_control = control.bytes;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * max_fds);
    }
    ssize_t n;
    do {
        n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return last_error();
    }
    received_fds got;
    got.size = static_cast<std::size_t>(n);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int received = -1;
            std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
            got.fds.emplace_back(received);
        }
    }
    if (msg.msg_flags & MSG_CTRUNC) {
        return errc::descriptors_truncated;  // `got` closes what did arrive
    }
    return got;
}

}  // namespace corio::net::detail
