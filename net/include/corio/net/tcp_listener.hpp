// SPDX-License-Identifier: MIT
// tcp_listener: a listening TCP socket that hands out connected tcp_streams.
#pragma once

#include <corio/io_handle.hpp>
#include <corio/net/address.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/result.hpp>
#include <corio/task.hpp>

#include <chrono>
#include <stop_token>
#include <string_view>
#include <vector>

namespace corio::net {

/// Socket options applied by tcp_listener::bind.
struct listen_options {
    int backlog = 4096;          ///< capped by the kernel at net.core.somaxconn
    bool reuse_address = true;   ///< SO_REUSEADDR: rebind while old connections sit in TIME_WAIT
    bool reuse_port = false;     ///< SO_REUSEPORT: several listeners share a port (one per core)
    bool v6_only = false;        ///< IPV6_V6ONLY for a v6 address (false: also accept v4-mapped)
};

/// A listening TCP socket; closes on destruction. One task accepts at a time; when the process
/// is out of descriptors (EMFILE/ENFILE, or on select those below FD_SETSIZE) accept() backs
/// off and retries instead of spinning.
class tcp_listener {
public:
    tcp_listener() noexcept = default;

    /// Creates, configures, binds and listens. Errors: EADDRINUSE, EACCES (privileged port),
    /// EADDRNOTAVAIL, EMFILE/ENFILE, EINVAL for a negative backlog.
    static result<tcp_listener> bind(const endpoint& local, listen_options options = {});
    /// `count` listeners on one address, each its own SO_REUSEPORT socket, for one loop each
    /// (move listener i into a task spawned on loop i: it belongs to the loop that first accepts
    /// on it). Linux hands each new connection to one of them by a hash of its addresses and
    /// ports, whatever the loops are doing: a busy loop still gets its share, which waits in its
    /// own backlog, and closing one listener resets the connections waiting in its backlog.
    /// Port 0 picks one port for all. Errors: as bind(), and EINVAL for count 0.
    static result<std::vector<tcp_listener>> bind_per_thread(const endpoint& local, unsigned count,
                                                             listen_options options = {});

    /// Waits for the next connection. Out of descriptors, it waits (1 ms doubling to 100 ms)
    /// and retries, so existing connections keep running and accepting resumes once
    /// descriptors are freed. On the select backend a connection that lands on a descriptor
    /// >= FD_SETSIZE cannot be watched, so it is never returned: it is sent `refusal` (one
    /// non-blocking send, best effort; the protocol's "busy" answer, e.g. an HTTP 503), shut
    /// down and closed, and accept() backs off as when out of descriptors. `refusal` must stay
    /// valid until the accept completes. Errors: operation_canceled, errc::closed, and other
    /// accept(2) errors (ECONNABORTED is skipped). A second concurrent accept throws usage_error.
    task<result<tcp_stream>> accept(std::stop_token token = {}, std::string_view refusal = {});

    /// The bound address, with the port the kernel chose for port 0.
    result<endpoint> local_endpoint() const;
    result<void> close() noexcept { return h_.close(); }
    bool is_open() const noexcept { return h_.is_open(); }
    io_handle& handle() noexcept { return h_; }

private:
    explicit tcp_listener(io_handle h) noexcept : h_(std::move(h)) {}
    io_handle h_;
};

}  // namespace corio::net
