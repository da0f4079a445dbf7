// SPDX-License-Identifier: MIT
// One HTTP connection: read, parse each complete request, answer in order, one write per read.
#include "http/connection.hpp"

#include <corio/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace corio::http::detail {
namespace {

void append_number(std::string& out, std::uint64_t n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, r.ptr);
}

// The head's views point into the input buffer, which moves while a body arrives: copy them.
void stabilize_head(connection& c, const request_head& h) {
    std::size_t need = h.target.size();
    for (const header_field& f : h.headers) {
        need += f.name.size() + f.value.size();
    }
    c.arena.clear();
    c.arena.reserve(need);  // no reallocation below: the views stay valid
    const auto keep = [&](std::string_view v) {
        const std::size_t at = c.arena.size();
        c.arena.append(v);
        return std::string_view(c.arena.data() + at, v.size());
    };
    c.req.target = keep(h.target);
    // path and query are parts of the target (for "http://host" the path is the scheme's last
    // '/'): the same offsets into the copy, not a new split, which would lose the authority.
    const auto part_of_target = [&](std::string_view part) {
        if (part.empty()) {
            return std::string_view{};
        }
        return c.req.target.substr(static_cast<std::size_t>(part.data() - h.target.data()),
                                   part.size());
    };
    c.req.path = part_of_target(h.path);
    c.req.query = part_of_target(h.query);
    c.fields.clear();
    for (const header_field& f : h.headers) {
        c.fields.push_back({keep(f.name), keep(f.value)});
    }
    c.req.headers = c.fields;
}

void begin_request(connection& c, const request_head& h) {
    c.req.verb = h.verb;
    c.req.version_minor = h.version_minor;
    c.req.target = h.target;
    c.req.path = h.path;
    c.req.query = h.query;
    c.req.headers = h.headers;
    c.req.remote = c.remote;
    c.body.clear();
    if (h.chunked || h.content_length.value_or(0) > 0) {
        stabilize_head(c, h);
    }
}

bool has_no_body(int status) noexcept { return status < 200 || status == 204 || status == 304; }

using namespace std::string_view_literals;  // literals with their length: no strlen each

// The status line and the fields every response starts with, up to its Content-Type.
void write_head_start(std::string& out, const server::state& st, const response& r,
                      std::string_view date) {
    out.append("HTTP/1.1 "sv);
    append_number(out, static_cast<std::uint64_t>(r.status()));
    out.push_back(' ');
    out.append(reason_phrase(r.status()));
    out.append("\r\n"sv);
    if (!st.options.server_name.empty()) {
        out.append("Server: "sv).append(st.options.server_name).append("\r\n"sv);
    }
    out.append("Date: "sv).append(date).append("\r\n"sv);
    if (const std::string_view type = r.content_type(); !type.empty()) {
        out.append("Content-Type: "sv).append(type).append("\r\n"sv);
    }
}

// A response with no fields of its own and a Content-Length: its head up to the length's value
// comes from the cache, rebuilt when the status, type or second changes.
const std::string& cached_head_start(server::state& st, const response& r, std::string_view date) {
    head_cache& cache = st.head;
    if (cache.status != r.status() || cache.second != st.date.second() ||
        cache.type != r.content_type()) {
        cache.status = r.status();
        cache.second = st.date.second();
        cache.type.assign(r.content_type());
        cache.prefix.clear();
        write_head_start(cache.prefix, st, r, date);
        cache.prefix.append("Content-Length: "sv);
    }
    return cache.prefix;
}

void write_head(connection& c, const response& r, bool keep_alive, std::uint64_t length,
                bool chunked) {
    std::string& out = c.out;
    // The time the head is built, not when its request arrived: a slow handler's answer would
    // carry a Date as old as the handler is slow.
    const std::string_view date = c.srv.date.now(loop_time());
    if (!chunked && r.fields().empty() && !has_no_body(r.status())) {
        out.append(cached_head_start(c.srv, r, date));
        append_number(out, length);
        out.append("\r\n"sv);
    } else {
        write_head_start(out, c.srv, r, date);
        out.append(r.fields());
        if (chunked) {
            out.append("Transfer-Encoding: chunked\r\n"sv);
        } else if (!has_no_body(r.status())) {
            out.append("Content-Length: "sv);
            append_number(out, length);
            out.append("\r\n"sv);
        }
    }
    if (!keep_alive) {
        out.append("Connection: close\r\n"sv);
    } else if (c.req.version_minor == 0) {
        out.append("Connection: keep-alive\r\n"sv);
    }
    out.append("\r\n"sv);
}

// Appends the response to c.out; a file body is left in `r` for the caller to send.
void serialize(connection& c, response& r, bool keep_alive) {
    const bool head_only = c.req.verb == method::head || has_no_body(r.status());
    const bool file = r.file().fd >= 0;
    // Chunked only for 1.1 peers; 1.0 gets Content-Length (the body is all here anyway).
    const bool chunked = r.is_chunked() && !file && c.req.version_minor == 1 && !has_no_body(r.status());
    write_head(c, r, keep_alive, file ? r.file().size : r.body().size(), chunked);
    if (head_only) {
        return;
    }
    if (!chunked) {
        c.out.append(r.body());
        return;
    }
    if (!r.body().empty()) {
        fmt::format_to(std::back_inserter(c.out), "{:x}\r\n", r.body().size());
        c.out.append(r.body()).append("\r\n");
    }
    c.out.append("0\r\n\r\n");
}

// Routes and runs the current request, appends its response, and sends a file body if any.
task<result<void>> respond(connection& c) {
    server::state& st = c.srv;
    ++st.metrics.in_flight;
    c.busy = true;
    c.req.body = c.body;
    std::string allow;
    const handler* h = st.routes.find(c.req.verb, c.req.path, allow);
    // Plain statements, not a conditional expression: g++ 12 mis-destroys temporaries of a
    // co_await inside ?: (a double free, seen here).
    response r;
    if (h) {
        // The handler's exception reaches us through the awaited task; a 500 answers it.
        bool failed = false;
        try {
            task<response> t = (*h)(c.req);
            r = co_await std::move(t);
        } catch (...) {  // whatever it threw: the client still gets an answer
            failed = true;
        }
        if (failed) {
            r = response(500, "Internal Server Error\n");
        }
    } else if (allow.empty()) {
        r = response(404, "Not Found\n");
    } else {
        r = response(405, "Method Not Allowed\n");
        r.header("Allow", allow);
    }
    const bool keep_alive = c.parser.head().keep_alive && !st.stopping;
    c.close_after_flush = !keep_alive;
    serialize(c, r, keep_alive);
    result<void> sent;
    if (r.file().fd >= 0) {
        file_body f = r.release_file();
        if (c.req.verb == method::head || has_no_body(r.status())) {
            ::close(f.fd);
        } else {
            // A peer that stops reading the file is cut like an idle one.
            arm_idle(c);
            sent = co_await flush(c);
            if (sent) {
                sent = co_await send_file(c, f);
            } else {
                ::close(f.fd);
            }
        }
    }
    c.busy = false;
    --st.metrics.in_flight;
    ++st.metrics.requests_by_class[static_cast<std::size_t>(std::clamp(r.status() / 100, 1, 5))];
    ++c.answered;  // its latency is taken when the answer is written (flush)
    co_return sent;
}

void answer_error(connection& c, int status, std::string_view reason) {
    response r(status, std::string(reason) + "\n");
    c.close_after_flush = true;
    // The rejected request's head may be unparsed: answer it as a GET from a 1.1 client, not
    // as the connection's previous request (a HEAD would have dropped the body).
    c.req.verb = method::get;
    c.req.version_minor = 1;
    serialize(c, r, false);
    ++c.srv.metrics.requests_by_class[static_cast<std::size_t>(status / 100)];
    ++c.answered;  // in the latency histogram too, so its count equals the requests counted
}

// Makes room to read: drops consumed bytes, and grows the buffer when a request's head or a
// body piece does not fit (the parser's limits bound the head; body pieces are consumed). A
// buffer grown for a big head shrinks back once what it holds is small again.
void make_room(connection& c) {
    shrink_input(c);
    if (c.begin > 0) {
        std::memmove(c.in.data(), c.in.data() + c.begin, c.end - c.begin);
        c.end -= c.begin;
        c.begin = 0;
    }
    if (c.end == c.in.size()) {
        c.in.resize(c.in.size() * 2);
    }
}

enum class step { read_more, close };

// Consumes empty lines before a request line (RFC 9112 §2.2 lets a server ignore them), so a
// CRLF sent after a request neither starts the header deadline nor makes a graceful stop wait.
// Returns whether a request has begun. A lone CR at the end stays unread: its LF may follow.
bool request_begun(connection& c) {
    while (c.begin < c.end) {
        const char ch = c.in[c.begin];
        if (ch == '\n') {
            ++c.begin;
        } else if (ch == '\r' && c.begin + 1 == c.end) {
            return false;
        } else if (ch == '\r' && c.in[c.begin + 1] == '\n') {
            c.begin += 2;
        } else {
            return true;
        }
    }
    return false;
}

// Parses and answers every complete request in the buffer. The heads' views point into
// c.in, so nothing here moves it.
task<step> process(connection& c) {
    using kind = request_parser::state;
    for (;;) {
        const auto ev = c.parser.parse({c.in.data() + c.begin, c.end - c.begin});
        c.begin += ev.consumed;
        if (ev.kind == kind::need_more) {
            co_return step::read_more;
        }
        if (ev.kind == kind::error) {
            answer_error(c, ev.status, ev.reason);
            co_return step::close;
        }
        if (ev.kind == kind::body_data) {
            c.body.append(ev.body.data(), ev.body.size());
            continue;
        }
        if (ev.kind == kind::head_done) {
            const request_head& h = c.parser.head();
            begin_request(c, h);
            c.in_body = h.chunked || h.content_length.value_or(0) > 0;
            if (h.expect_continue && c.in_body) {
                c.out.append("HTTP/1.1 100 Continue\r\n\r\n");  // the client waits for this
                const result<void> sent = co_await flush(c);
                if (!sent) {
                    co_return step::close;
                }
            }
            continue;
        }
        // message_done. The request has arrived: its handler runs with no deadline of ours
        // (header_timeout and idle_timeout are about the client, not about the handler).
        c.timer.disarm();
        c.timer_for = deadline::none;  // the next head's deadline is set only if read on
        const result<void> sent = co_await respond(c);
        if (!sent || c.close_after_flush) {
            co_return step::close;
        }
        if (c.out.size() >= max_unsent) {
            // Backpressure: the answers so far go out before more requests are parsed, and
            // none is read until they have. A peer that does not read them is cut like an idle
            // one.
            arm_idle(c);
            const result<void> drained = co_await flush(c);
            if (!drained) {
                co_return step::close;
            }
        }
        c.parser.reset();
        c.in_body = false;
        c.in_request = request_begun(c);  // pipelined: the next request is already here
        if (!c.in_request) {
            co_return step::read_more;
        }
    }
}

}  // namespace

connection::connection(server::state& st, net::tcp_stream stream)
    : srv(st),
      s(std::move(stream)),
      timer(stop),
      parser(st.options.limits),
      in(initial_buffer) {
    if (auto ep = s.remote_endpoint()) {
        remote = *ep;
    }
    (void)s.set_nodelay(true);  // responses are whole: waiting for more to send only delays
    next = srv.connections;
    if (next) {
        next->prev = this;
    }
    srv.connections = this;
    ++srv.metrics.open_connections;
}

connection::~connection() {
    (prev ? prev->next : srv.connections) = next;
    if (next) {
        next->prev = prev;
    }
    if (--srv.metrics.open_connections == 0 && srv.stopping) {
        srv.all_closed.set();
    }
}

task<> run_connection(connection& c) {
    const auto& opt = c.srv.options;
    for (;;) {
        // Each co_await is a statement of its own: g++ 12 mishandles the temporaries of a
        // co_await inside a larger expression (conditions, ?:).
        step next = step::read_more;
        if (c.in_request) {
            next = co_await process(c);
        }
        if (!c.out.empty()) {
            // A peer that stops reading its answers is cut like an idle one; flush re-arms the
            // deadline whenever bytes go out, so it measures a stall, not the write's length.
            arm_idle(c);
        }
        const result<void> sent = co_await flush(c);
        if (!sent || next == step::close) {
            co_return;
        }
        if (c.srv.stopping && !c.in_request) {
            co_return;  // between requests: nothing in flight to finish
        }
        if (!c.in_request) {
            // Waiting for the next request: counted from the answers' last progress when there
            // were some, and not extended by empty lines (a CRLF every minute keeps nobody on).
            if (c.timer_for != deadline::idle) {
                arm_idle(c);
            }
            release_idle_buffers(c);  // an idle connection does not keep its peak
        } else if (c.in_body) {
            arm_idle(c);  // a body may stall this long: each piece restarts the deadline
        } else if (c.timer_for != deadline::header) {
            // A head begun in an earlier read (pipelined behind the last answer): its deadline
            // runs from now. It is not extended by later reads.
            c.timer.arm(opt.header_timeout);
            c.timer_for = deadline::header;
        }
        make_room(c);
        auto n = co_await c.s.recv(std::span<std::byte>(
            reinterpret_cast<std::byte*>(c.in.data() + c.end), c.in.size() - c.end));
        if (!n || *n == 0) {
            co_return;  // the peer left, an error, or the timer (or a shutdown) cancelled us
        }
        c.srv.metrics.bytes_in += *n;
        c.end += *n;
        c.read_at = loop_time();  // the poll that saw them: no clock read per read
        if (!c.in_request && request_begun(c)) {
            // The first bytes of a request: its head must come in time.
            c.in_request = true;
            c.timer.arm(opt.header_timeout);
            c.timer_for = deadline::header;
        }
    }
}

}  // namespace corio::http::detail
