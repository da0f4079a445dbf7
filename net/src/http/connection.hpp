// SPDX-License-Identifier: MIT
// The server's shared state and one connection's buffers, shared by server.cpp and connection.cpp.
#pragma once

#include <corio/clock.hpp>
#include <corio/event.hpp>
#include <corio/http/parser.hpp>
#include <corio/http/request.hpp>
#include <corio/http/server.hpp>
#include <corio/stop_timer.hpp>

#include "http/date.hpp"

#include <chrono>
#include <cstdint>
#include <stop_token>
#include <string>
#include <vector>

namespace corio::http {
namespace detail {
struct connection;
}

namespace detail {
/// The head of the last plain response up to its Content-Length value (status line, Server, Date,
/// Content-Type), reused while responses differ only in length: with pipelining, writing each
/// head field by field was a tenth of the server's CPU.
struct head_cache {
    int status = 0;
    std::time_t second = -1;  // the Date in `prefix`
    std::string type;
    std::string prefix;
};
}  // namespace detail

struct server::state {
    state(router r, server_options o) : routes(std::move(r)), options(std::move(o)) {}
    router routes;
    server_options options;
    server_metrics metrics;
    detail::date_cache date;
    detail::head_cache head;
    detail::connection* connections = nullptr;  // every open one, for stop()
    net::tcp_listener* listener = nullptr;      // while serve() runs
    bool stopping = false;
    event all_closed;
};

namespace detail {

/// One client: its socket, parser, buffers (kept across requests, so a busy keep-alive
/// connection allocates nothing) and its place in the server's list.
struct connection {
    connection(server::state& s, net::tcp_stream stream);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    server::state& srv;
    net::tcp_stream s;
    net::endpoint remote;
    std::stop_source stop;
    // Stops `stop` at the header, idle or body deadline; re-armed as the connection moves
    // between reading a request and waiting for the next.
    stop_timer timer;
    request_parser parser;
    std::vector<char> in;     // received bytes: [begin, end) not yet consumed
    std::size_t begin = 0;
    std::size_t end = 0;
    std::string out;          // responses not yet written
    std::string body;         // the current request's body
    std::string arena;        // the head, copied when a body makes the input buffer move
    std::vector<header_field> fields;
    request req;              // the current request, views into in/arena/body
    bool in_request = false;  // a request has begun arriving and is not yet answered
    bool in_body = false;     // its head is parsed and a body is still arriving
    bool busy = false;        // its handler is running
    bool writing = false;     // answers are being written (stop() lets them finish)
    bool close_after_flush = false;
    bool head_timer_armed = false;  // the current head's deadline is set
    std::uint32_t answered = 0;     // responses in `out` whose latency is not yet recorded
    std::chrono::steady_clock::time_point read_at{};  // when the loop saw the last bytes arrive
    connection* prev = nullptr;
    connection* next = nullptr;
};

/// The connection's loop: read, parse every complete request, answer them in order with one
/// write, until the peer leaves, a timeout fires, or the server stops.
task<> run_connection(connection& c);

}  // namespace detail
}  // namespace corio::http
