// SPDX-License-Identifier: MIT
// Stream socket operations shared by TCP and Unix sockets: accept with back-off when
// descriptors run out, send_all, shutdown.
#include "stream_ops.hpp"

#include <corio/detail/scheduler.hpp>
#include <corio/timer.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

namespace corio::net::detail {
namespace {

bool out_of_descriptors(std::error_code e) {
    return e == std::errc::too_many_files_open || e == std::errc::too_many_files_open_in_system ||
           e == std::errc::not_enough_memory || e == std::errc::no_buffer_space;
}

// select() can watch only descriptors below FD_SETSIZE: a connection accepted above that would
// fail at its first wait (errc::fd_set_overflow), which servers answer by closing it, silently.
bool cannot_watch(int fd) {
    if (fd < FD_SETSIZE) {
        return false;
    }
    auto* s = corio::detail::scheduler::current();
    return s && s->io().backend_name() == "select";
}

// Gives a connection the server cannot serve its one chance to learn why: the reply, sent once
// without blocking (a fresh socket's send buffer is empty, so a short one fits), then a FIN.
// What the client already sent is read off first: unread input would make close() send a
// reset, which can overtake the reply.
void refuse(int fd, std::string_view reply) {
    if (!reply.empty()) {
        (void)::send(fd, reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    (void)::shutdown(fd, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
    }
    ::close(fd);
}

}  // namespace

task<result<int>> accept_connection(io_handle& h, std::stop_token token, std::string_view refusal) {
    auto backoff = std::chrono::milliseconds(1);
    for (;;) {
        auto fd = co_await h.accept(token);
        if (fd && !cannot_watch(*fd)) {
            co_return *fd;
        }
        if (fd) {
            refuse(*fd, refusal);  // then out of descriptors the loop can watch: back off
        } else if (fd.error() == std::errc::connection_aborted) {
            continue;  // the client gave up before we got to it: not our error
        } else if (!out_of_descriptors(fd.error())) {
            co_return fd.error();
        }
        // The pending connection stays in the backlog; retrying at once would spin on it.
        if (auto slept = co_await sleep_for(backoff, token); !slept) {
            co_return slept.error();
        }
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::milliseconds(100));
    }
}

task<result<void>> send_all(io_handle& h, std::span<const std::byte> buf, std::stop_token token) {
    while (!buf.empty()) {
        auto n = co_await h.send(buf, token);
        if (!n) {
            co_return n.error();
        }
        buf = buf.subspan(*n);
    }
    co_return result<void>{};
}

result<void> shutdown_socket(int fd, shutdown_how how) noexcept {
    const int mode = how == shutdown_how::receive ? SHUT_RD
                     : how == shutdown_how::send  ? SHUT_WR
                                                  : SHUT_RDWR;
    if (::shutdown(fd, mode) != 0) {
        return std::error_code(errno, std::system_category());
    }
    return {};
}

}  // namespace corio::net::detail
