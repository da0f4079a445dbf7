// SPDX-License-Identifier: MIT
// server: serves HTTP/1.1 on a listener with keep-alive, pipelining, timeouts and metrics.
#pragma once

#include <corio/http/parser.hpp>
#include <corio/http/router.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/result.hpp>
#include <corio/task.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>

namespace corio::http {

/// How a server treats its clients. Every field has a usable default.
struct server_options {
    parser_limits limits{};
    /// A request's head must arrive within this, counted from its first byte (slowloris).
    std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
    /// A keep-alive connection with no request for this long is closed; so is one whose body
    /// stalls this long, and one whose peer takes none of its answers for this long (a limit on
    /// lack of progress: a slow but steady reader gets the whole answer, however long it takes).
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
    /// After stop() or a cancelled serve(): how long in-flight requests may take before their
    /// connections are cut.
    std::chrono::milliseconds shutdown_grace = std::chrono::seconds(10);
    /// The Server field of every response; empty: none.
    std::string server_name = "corio";
};

/// Counters of one server, rendered by prometheus_text(). QPS and throughput are their rates.
/// Loop thread only.
struct server_metrics {
    static constexpr std::array<double, 12> latency_bounds = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0, 10.0};
    std::array<std::uint64_t, 6> requests_by_class{};  ///< [status / 100], 1xx..5xx
    std::uint64_t in_flight = 0;
    std::uint64_t open_connections = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::array<std::uint64_t, latency_bounds.size() + 1> latency_counts{};  ///< last: +Inf
    double latency_sum_seconds = 0;

    /// Counts `n` requests that took `seconds` each.
    void record_latency(double seconds, std::uint64_t n = 1) noexcept;
    /// Adds another server's counters to these (e.g. the servers of every loop, each read on its
    /// own loop), gauges included: the sum is what one server serving them all would count.
    server_metrics& operator+=(const server_metrics& other) noexcept;
    /// The Prometheus text exposition format (version 0.0.4).
    std::string prometheus_text() const;
};

/// An HTTP/1.1 server over a router. One runtime thread; responses to pipelined requests go out
/// in request order, all those answering one read in one write, or every 64 KiB: a connection
/// stops reading requests while that much of its answers is unsent (backpressure).
class server {
public:
    explicit server(router routes, server_options options = {});
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Accepts and serves connections until stop(), until `token` is stopped, or until the task
    /// awaiting serve() is cancelled (with_timeout around it, or a token it inherits). Each ends
    /// in the same graceful stop: no more accepting, idle connections closed at once, the others
    /// given up to shutdown_grace to finish their in-flight request, then cut. The cancellation
    /// that began it does not cut that drain short: serve() returns only once every connection
    /// task has ended, so the server may be destroyed as soon as it returns. The connection
    /// tasks are children of a task_group in serve()'s frame (see docs/composition.md): should
    /// that frame be destroyed first (a runtime torn down under serve()), it destroys them.
    /// Returns success after stop(); std::errc::operation_canceled when `token` or the awaiting
    /// task was cancelled before it returned (stop() called too or not); otherwise the accept
    /// error that ended it (EMFILE/ENFILE are retried, not returned). An exception escaping a
    /// connection task (not a handler's: those become 500 answers) is rethrown by serve() once
    /// the drain is over; later ones are dropped. On the select backend a
    /// client accepted on a descriptor >= FD_SETSIZE, which the loop cannot watch, gets
    /// "503 Service Unavailable" with Retry-After and Connection: close, and accepting backs
    /// off as when out of descriptors (see tcp_listener::accept).
    task<result<void>> serve(net::tcp_listener& listener, std::stop_token token = {});
    /// Serves one connection until the peer or a timeout ends it (serve() runs one per client).
    task<> serve_connection(net::tcp_stream stream);
    /// Begins a graceful shutdown (see serve). Loop thread only; idempotent.
    void stop() noexcept;

    const server_metrics& metrics() const noexcept;

    struct state;  // shared with each connection; internal

private:
    std::unique_ptr<state> state_;
};

}  // namespace corio::http
