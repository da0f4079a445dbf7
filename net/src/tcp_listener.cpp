// SPDX-License-Identifier: MIT
// tcp_listener: bind, and accept with back-off when descriptors run out.
#include <corio/net/tcp_listener.hpp>
#include <corio/detail/scheduler.hpp>
#include <corio/timer.hpp>

#include "socket.hpp"

#include <algorithm>
#include <cerrno>
#include <vector>

#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

namespace corio::net {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

result<void> set_flag(int fd, int level, int name, bool on) {
    const int v = on ? 1 : 0;
    if (::setsockopt(fd, level, name, &v, sizeof v) != 0) {
        return last_error();
    }
    return {};
}

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

result<tcp_listener> tcp_listener::bind(const endpoint& local, listen_options options) {
    if (options.backlog < 0) {
        return std::errc::invalid_argument;
    }
    auto fd = detail::open_socket(local, SOCK_STREAM);
    if (!fd) {
        return fd.error();
    }
    io_handle h(*fd);
    if (auto r = set_flag(*fd, SOL_SOCKET, SO_REUSEADDR, options.reuse_address); !r) {
        return r.error();
    }
    if (options.reuse_port) {
        if (auto r = set_flag(*fd, SOL_SOCKET, SO_REUSEPORT, true); !r) {
            return r.error();
        }
    }
    if (local.address().is_v6()) {
        if (auto r = set_flag(*fd, IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only); !r) {
            return r.error();
        }
    }
    sockaddr_storage ss{};
    const auto len = local.to_sockaddr(&ss, sizeof ss);
    if (::bind(*fd, reinterpret_cast<const sockaddr*>(&ss), static_cast<socklen_t>(len)) != 0 ||
        ::listen(*fd, options.backlog) != 0) {
        return last_error();
    }
    return tcp_listener(std::move(h));
}

result<std::vector<tcp_listener>> tcp_listener::bind_per_thread(const endpoint& local,
                                                                unsigned count,
                                                                listen_options options) {
    if (count == 0) {
        return std::errc::invalid_argument;
    }
    options.reuse_port = true;
    std::vector<tcp_listener> listeners;
    listeners.reserve(count);
    endpoint at = local;
    for (unsigned i = 0; i < count; ++i) {
        auto l = bind(at, options);
        if (!l) {
            return l.error();
        }
        if (i == 0) {
            // Port 0 asks the kernel for a port once; the others join that one.
            auto bound = l->local_endpoint();
            if (!bound) {
                return bound.error();
            }
            at = *bound;
        }
        listeners.push_back(std::move(*l));
    }
    return listeners;
}

task<result<tcp_stream>> tcp_listener::accept(std::stop_token token, std::string_view refusal) {
    auto backoff = std::chrono::milliseconds(1);
    for (;;) {
        auto fd = co_await h_.accept(token);
        if (fd && !cannot_watch(*fd)) {
            co_return tcp_stream(io_handle(*fd));
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

result<endpoint> tcp_listener::local_endpoint() const { return detail::socket_endpoint(h_.fd(), true); }

}  // namespace corio::net
