// SPDX-License-Identifier: MIT
// A corio::http::server on a loopback port for end-to-end tests, its test routes, and a client
// side that reads whole responses (Content-Length, chunked, or to the end) off a tcp_stream.
#pragma once

#include <corio/http/server.hpp>

#include <catch2/catch.hpp>

#include <corio/clock.hpp>
#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/timer.hpp>

#include "support/net_loopback.hpp"

#include <charconv>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace corio_test {

using namespace corio::http;
using corio::task;
using corio::net::tcp_stream;

struct reply {
    std::string status_line;
    std::string head;  // the field lines, CRLF-separated
    std::string body;
    bool closed = false;  // the server closed the connection after it
    std::string field(std::string_view name) const {
        std::size_t at = 0;
        while ((at = head.find("\r\n", at)) != std::string::npos) {
            at += 2;
            const std::size_t colon = head.find(':', at);
            if (colon == std::string::npos) {
                break;
            }
            if (field_name_equal(std::string_view(head).substr(at, colon - at), name)) {
                const std::size_t end = head.find("\r\n", colon);
                return head.substr(colon + 2, end - colon - 2);
            }
        }
        return {};
    }
    int status() const { return std::stoi(status_line.substr(9, 3)); }
};

/// Reads one response (Content-Length or chunked framed, or to the end), keeping what follows.
struct response_reader {
    explicit response_reader(tcp_stream& stream) : s(stream) {}
    tcp_stream& s;
    std::string pending;

    task<bool> fill() {
        std::byte buf[4096];
        auto n = co_await s.recv(buf);
        if (!n || *n == 0) {
            co_return false;
        }
        pending.append(reinterpret_cast<const char*>(buf), *n);
        co_return true;
    }

    // Reads until `pending` holds `n` bytes; false if the connection ended first. Every
    // co_await here is a statement of its own: g++ 12 destroys a task temporary that a
    // short-circuited `a && co_await f()` never created, corrupting the frame allocator.
    task<bool> want(std::size_t n) {
        while (pending.size() < n) {
            const bool more = co_await fill();
            if (!more) {
                co_return false;
            }
        }
        co_return true;
    }

    task<bool> want_line(std::size_t& eol) {
        for (;;) {
            eol = pending.find("\r\n");
            if (eol != std::string::npos) {
                co_return true;
            }
            const bool more = co_await fill();
            if (!more) {
                co_return false;
            }
        }
    }

    task<reply> next(bool head_request = false) {
        reply r;
        std::size_t end;
        for (;;) {
            end = pending.find("\r\n\r\n");
            if (end != std::string::npos) {
                break;
            }
            const bool more = co_await fill();
            if (!more) {
                r.closed = true;
                co_return r;
            }
        }
        const std::size_t line_end = pending.find("\r\n");
        r.status_line = pending.substr(0, line_end);
        r.head = pending.substr(line_end, end - line_end + 2);
        pending.erase(0, end + 4);
        const std::string length = r.field("Content-Length");
        if (head_request || r.status() == 304 || r.status() == 204 || r.status() < 200) {
            co_return r;
        }
        if (!length.empty()) {
            const std::size_t n = std::stoul(length);
            (void)co_await want(n);
            r.body = pending.substr(0, n);
            pending.erase(0, std::min(n, pending.size()));
        } else if (r.field("Transfer-Encoding") == "chunked") {
            for (;;) {
                std::size_t eol = 0;
                const bool line = co_await want_line(eol);
                if (!line) {
                    break;
                }
                std::size_t size = 0;
                std::from_chars(pending.data(), pending.data() + eol, size, 16);
                (void)co_await want(eol + 2 + size + 2);
                r.body += pending.substr(eol + 2, size);
                pending.erase(0, eol + 2 + size + 2);
                if (size == 0) {
                    break;
                }
            }
        } else {
            for (;;) {
                const bool more = co_await fill();
                if (!more) {
                    break;
                }
            }
            r.body = std::move(pending);
            pending.clear();
            r.closed = true;
        }
        co_return r;
    }

    task<bool> at_end() {
        if (!pending.empty()) {
            co_return false;
        }
        const bool more = co_await fill();
        co_return !more;
    }
};

/// Runs `body` on a runtime (the backend CORIO_BACKEND names) whose timers follow `clock`: its
/// timeouts end only when the test advances the clock, never because a machine was slow.
/// Rethrows the first exception that escaped a spawned task.
inline void run_on_clock(corio::manual_clock& clock, task<> body) {
    std::exception_ptr escaped;
    corio::runtime_options options;
    options.clock = &clock;
    options.on_unhandled_exception = [&escaped](std::exception_ptr e) {
        if (!escaped) {
            escaped = std::move(e);
        }
    };
    corio::runtime rt(std::move(options));
    rt.block_on(std::move(body));
    if (escaped) {
        std::rethrow_exception(escaped);
    }
}

/// Lets the loop turn (each turn polls for I/O) until `done()` holds, at most `turns` times;
/// returns whether it held. For what other tasks and loopback I/O bring about with no timer.
inline task<bool> turns_until(std::function<bool()> done, int turns = 100000) {
    for (int i = 0; i < turns; ++i) {
        if (done()) {
            co_return true;
        }
        co_await corio::yield{};
    }
    co_return done();
}

inline router test_routes(server*& self) {
    router r;
    r.route(method::get, "/plaintext", [](const request&) -> task<response> {
        co_return response(200, "Hello, World!", "text/plain");
    });
    r.route(method::post, "/echo", [](const request& req) -> task<response> {
        co_return response(200, std::string(req.body), "application/octet-stream");
    });
    r.route(method::get, "/chunked", [](const request&) -> task<response> {
        response res(200, "in chunks");
        res.chunked();
        co_return res;
    });
    r.route(method::get, "/throw", [](const request&) -> task<response> {
        throw std::runtime_error("handler bug");
        co_return response(200);
    });
    r.route(method::get, "/metrics", [&self](const request&) -> task<response> {
        co_return response(200, self->metrics().prometheus_text());
    });
    return r;
}

/// A server on a loopback port, serving until the test's body returns.
struct fixture {
    server* self = nullptr;
    std::unique_ptr<server> srv;
    corio::net::tcp_listener listener = bind_loopback();
    corio::event done;

    /// `more` adds routes of a test's own to test_routes().
    explicit fixture(server_options o = {}, const std::function<void(router&)>& more = {}) {
        router routes = test_routes(self);
        if (more) {
            more(routes);
        }
        srv = std::make_unique<server>(std::move(routes), std::move(o));
        self = srv.get();
        corio::spawn([](fixture& f) -> task<> {
            auto r = co_await f.srv->serve(f.listener);
            CHECK(r);
            f.done.set();
        }(*this));
    }
    task<tcp_stream> connect() {
        auto s = co_await tcp_stream::connect(endpoint_of(listener));
        require_ok(s, "connect");
        co_return std::move(*s);
    }
    task<> stop() {
        srv->stop();
        (void)co_await done.wait();
    }
};

// Every co_await sits outside CHECK: g++ 12 mishandles the temporaries of a co_await inside
// a Catch-decomposed expression (replies came back swapped).

inline task<> send(tcp_stream& s, std::string_view text) {
    require_ok(co_await s.send_all(bytes_of(text)), "send_all");
}

}  // namespace corio_test
