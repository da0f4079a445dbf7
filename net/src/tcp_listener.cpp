// SPDX-License-Identifier: MIT
// tcp_listener: bind, and accept with back-off when descriptors run out.
#include <corio/net/tcp_listener.hpp>

#include "socket.hpp"
#include "stream_ops.hpp"

#include <cerrno>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

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
    auto fd = co_await detail::accept_connection(h_, std::move(token), refusal);
    if (!fd) {
        co_return fd.error();
    }
    co_return tcp_stream(io_handle(*fd));
}

result<endpoint> tcp_listener::local_endpoint() const { return detail::socket_endpoint(h_.fd(), true); }

}  // namespace corio::net
