// SPDX-License-Identifier: MIT
// The server's shared state and one connection's buffers, shared by server.cpp and connection.cpp.
#pragma once

#include <corio/clock.hpp>
#include <corio/event.hpp>
#include <corio/http/parser.hpp>
#include <corio/http/request.hpp>
#include <corio/http/response.hpp>
#include <corio/http/server.hpp>
#include <corio/stop_timer.hpp>

#include "http/date.hpp"

#include <chrono>
#include <cstddef>
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

/// Which deadline the connection's timer holds.
enum class deadline : std::uint8_t {
    none,    // a handler runs: no deadline of ours
    idle,    // waiting for a request or a body piece, or for the peer to take answers
    header,  // a request's head is arriving
};

/// One client: its socket, parser, buffers (kept across requests up to retained_buffer, so a
/// busy keep-alive connection allocates nothing, and an idle one keeps no peak) and its place in
/// the server's list.
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
    // between reading a request and waiting for the next, and as answers make progress.
    stop_timer timer;
    deadline timer_for = deadline::none;
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
    std::uint32_t answered = 0;     // responses in `out` whose latency is not yet recorded
    std::chrono::steady_clock::time_point read_at{};  // when the loop saw the last bytes arrive
    connection* prev = nullptr;
    connection* next = nullptr;
};

/// The connection's loop: read, parse every complete request, answer them in order with one
/// write (or one per max_unsent bytes of answers), until the peer leaves, a timeout fires, or
/// the server stops.
task<> run_connection(connection& c);

// The send side (connection_send.cpp): writing answers under a deadline that measures lack of
// progress, and what an idle connection keeps.

/// The size the input buffer starts at and shrinks back to; grows to the parser's limits for a
/// big head.
inline constexpr std::size_t initial_buffer = 16 * 1024;
/// Answers held unsent before the connection writes them and stops parsing (so reading) more
/// requests: a pipelining client that does not read its answers costs at most this plus one
/// answer.
inline constexpr std::size_t max_unsent = 64 * 1024;
/// What the output, body and head-copy buffers may keep while the connection is idle; above it
/// they are released (a peak is not kept for the connection's life).
inline constexpr std::size_t retained_buffer = 16 * 1024;

/// Arms (or re-arms) the idle deadline, counted from the loop's last poll.
void arm_idle(connection& c);
/// Writes c.out; the idle deadline, when it is the one armed, restarts at each partial write.
/// Returns the send error, if any (c.out is cleared either way).
task<result<void>> flush(connection& c);
/// Writes `f` (read with corio::file) and closes it, re-arming the idle deadline as flush does.
/// Errors: the send error, or errc::unexpected_eof when the file shrank under us.
task<result<void>> send_file(connection& c, file_body f);
/// Releases buffers grown past retained_buffer (initial_buffer for the input), keeping unread
/// bytes. Only between requests: no view may point into them.
void release_idle_buffers(connection& c);
/// Shrinks the input buffer back to initial_buffer when what it holds fits in half of that.
void shrink_input(connection& c);

}  // namespace detail
}  // namespace corio::http
