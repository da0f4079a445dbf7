// SPDX-License-Identifier: MIT
// corio::http::server when serve() is cancelled (with_timeout, a stop token): a graceful stop
// within shutdown_grace, then what is left is cut, and serve() returns operation_canceled only
// once every connection has ended, so the server may be destroyed right then.
#include "support/http_fixture.hpp"

#include <corio/cancel.hpp>
#include <corio/clock.hpp>

#include <cstdint>
#include <exception>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>

namespace {

using namespace corio_test;
using namespace std::chrono_literals;
using corio::result;

// Far beyond loopback's socket buffers: a client that does not read it keeps the server writing.
constexpr std::size_t big_size = 32 << 20;

// The routes of these tests: /slow waits for `release` (a cut handler answers 503), /big
// answers big_size bytes once it has said so on `answered`.
struct handlers {
    corio::event entered;   // /slow has begun
    corio::event release;   // lets /slow answer
    corio::event answered;  // /big has returned its response
};

std::unique_ptr<server> make_server(handlers& h, server_options o = {}) {
    server* self = nullptr;
    router r = test_routes(self);
    r.route(method::get, "/slow", [&h](const request&) -> task<response> {
        h.entered.set();
        auto w = co_await h.release.wait();
        if (!w) {  // the server cut the connection: its waits are cancelled
            co_return response(503, "cut: " + w.error().message());
        }
        co_return response(200, "finished");
    });
    r.route(method::get, "/big", [&h](const request&) -> task<response> {
        h.answered.set();
        co_return response(200, std::string(big_size, 'b'), "application/octet-stream");
    });
    return std::make_unique<server>(std::move(r), std::move(o));
}

// What serve() returned and what its server looked like at that moment.
struct serve_report {
    std::optional<result<void>> served;  // serve()'s own result
    std::optional<result<void>> outer;   // with_timeout's, when serve ran under one
    std::uint64_t open_at_return = 0;
    std::uint64_t in_flight_at_return = 0;
    corio::event done;
};

task<result<void>> serve_and_record(server& srv, corio::net::tcp_listener& l, serve_report& rep,
                                    std::stop_token token = {}) {
    auto r = co_await srv.serve(l, std::move(token));
    rep.served = r;
    rep.open_at_return = srv.metrics().open_connections;
    rep.in_flight_at_return = srv.metrics().in_flight;
    co_return r;
}

// Serves under with_timeout(limit), then destroys the server at once, as a caller may once
// serve() has returned: nothing of the server may be used after that.
task<> serve_then_destroy(std::unique_ptr<server>& srv, corio::net::tcp_listener& l,
                          serve_report& rep, corio::clock_type::duration limit) {
    task<result<void>> served = serve_and_record(*srv, l, rep);
    auto r = co_await corio::with_timeout(limit, std::move(served));
    rep.outer = r;
    srv.reset();
    rep.done.set();
}

// Serves until `token` is stopped, then destroys the server at once.
task<> serve_until_then_destroy(std::unique_ptr<server>& srv, corio::net::tcp_listener& l,
                                serve_report& rep, std::stop_token token) {
    auto r = co_await serve_and_record(*srv, l, rep, std::move(token));
    rep.outer = r;
    srv.reset();
    rep.done.set();
}

// Reads until the peer closes or resets; returns how many bytes came meanwhile.
task<std::size_t> bytes_until_closed(tcp_stream& s) {
    std::size_t n = 0;
    for (;;) {
        std::byte buf[64 * 1024];
        auto got = co_await s.recv(buf);
        if (!got || *got == 0) {
            co_return n;
        }
        n += *got;
    }
}

// Three clients: one idle keep-alive connection (answered once), one slow reader (asked for
// /big and reads nothing), and one with /slow in flight.
struct clients {
    tcp_stream idle;
    tcp_stream slow_reader;
    tcp_stream busy;
};

task<clients> connect_three(corio::net::endpoint at, handlers& h) {
    auto idle = co_await tcp_stream::connect(at);
    require_ok(idle, "connect idle");
    response_reader idle_rd{*idle};
    co_await send(*idle, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
    const reply first = co_await idle_rd.next();
    CHECK(first.status() == 200);
    auto slow_reader = co_await tcp_stream::connect(at);
    require_ok(slow_reader, "connect slow reader");
    co_await send(*slow_reader, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    // The handler has returned and the server writes what the socket takes, then waits.
    (void)co_await h.answered.wait();
    auto busy = co_await tcp_stream::connect(at);
    require_ok(busy, "connect busy");
    co_await send(*busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    (void)co_await h.entered.wait();
    co_return clients{std::move(*idle), std::move(*slow_reader), std::move(*busy)};
}

TEST_CASE("http server cancel: with_timeout around serve stops gracefully, cuts what is left "
          "after shutdown_grace, and returns only once every connection is closed") {
    corio::manual_clock clock;
    run_on_clock(clock, [](corio::manual_clock& clock) -> task<> {
        handlers h;
        server_options o;
        o.shutdown_grace = 10s;
        std::unique_ptr<server> srv = make_server(h, o);
        auto listener = bind_loopback();
        serve_report rep;
        corio::spawn(serve_then_destroy(srv, listener, rep, 1s));
        clients c = co_await connect_three(endpoint_of(listener), h);
        CHECK(srv->metrics().open_connections == 3);
        CHECK(srv->metrics().in_flight == 1);

        clock.advance(1s);  // with_timeout cancels serve(): a graceful stop begins
        const std::size_t idle_rest = co_await bytes_until_closed(c.idle);
        CHECK(idle_rest == 0);  // idle: closed at once, with nothing more sent
        CHECK_FALSE(rep.done.is_set());  // the busy request and the slow reader are still on
        if (!rep.done.is_set()) {
            CHECK(srv->metrics().open_connections == 2);
        }

        clock.advance(o.shutdown_grace);  // the grace is over: the rest are cut
        (void)co_await rep.done.wait();
        REQUIRE(rep.served);
        CHECK(rep.served->error() == std::errc::operation_canceled);  // not success
        REQUIRE(rep.outer);
        CHECK(rep.outer->error() == std::errc::timed_out);  // what with_timeout makes of it
        CHECK(rep.open_at_return == 0);
        CHECK(rep.in_flight_at_return == 0);
        CHECK(srv == nullptr);  // destroyed as soon as serve returned

        const std::size_t busy_got = co_await bytes_until_closed(c.busy);
        const std::size_t slow_got = co_await bytes_until_closed(c.slow_reader);
        CAPTURE(busy_got, slow_got);
        CHECK(slow_got < big_size);  // cut before the end of its answer
    }(clock));
}

TEST_CASE("http server cancel: stopping serve's stop token stops gracefully too, and serve "
          "returns operation_canceled once every connection is closed") {
    corio::manual_clock clock;
    run_on_clock(clock, [](corio::manual_clock& clock) -> task<> {
        handlers h;
        server_options o;
        o.shutdown_grace = 10s;
        std::unique_ptr<server> srv = make_server(h, o);
        auto listener = bind_loopback();
        serve_report rep;
        std::stop_source cancel;
        corio::spawn(serve_until_then_destroy(srv, listener, rep, cancel.get_token()));
        clients c = co_await connect_three(endpoint_of(listener), h);
        CHECK(srv->metrics().open_connections == 3);

        cancel.request_stop();
        const std::size_t idle_rest = co_await bytes_until_closed(c.idle);
        CHECK(idle_rest == 0);
        CHECK_FALSE(rep.done.is_set());
        clock.advance(o.shutdown_grace - 1ms);  // not yet over: nothing is cut
        (void)co_await corio::sleep_for(0ms);
        CHECK_FALSE(rep.done.is_set());
        if (!rep.done.is_set()) {
            CHECK(srv->metrics().open_connections == 2);
            CHECK(srv->metrics().in_flight == 1);
        }

        clock.advance(1ms);
        (void)co_await rep.done.wait();
        REQUIRE(rep.served);
        CHECK(rep.served->error() == std::errc::operation_canceled);
        CHECK(rep.open_at_return == 0);
        CHECK(rep.in_flight_at_return == 0);
        const std::size_t busy_got = co_await bytes_until_closed(c.busy);
        const std::size_t slow_got = co_await bytes_until_closed(c.slow_reader);
        CAPTURE(busy_got, slow_got);
        CHECK(slow_got < big_size);
    }(clock));
}

TEST_CASE("http server cancel: a stop token stopped before serve starts still returns "
          "operation_canceled, and stop() alone returns success") {
    corio::manual_clock clock;
    run_on_clock(clock, [](corio::manual_clock&) -> task<> {
        handlers h;
        std::unique_ptr<server> stopped = make_server(h);
        auto first = bind_loopback();
        std::stop_source cancel;
        cancel.request_stop();
        auto r = co_await stopped->serve(first, cancel.get_token());
        CHECK(r.error() == std::errc::operation_canceled);

        std::unique_ptr<server> srv = make_server(h);
        auto second = bind_loopback();
        serve_report rep;
        std::stop_source unused;
        corio::spawn(serve_until_then_destroy(srv, second, rep, unused.get_token()));
        auto s = co_await tcp_stream::connect(endpoint_of(second));
        require_ok(s, "connect");
        response_reader rd{*s};
        co_await send(*s, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
        const reply got = co_await rd.next();
        CHECK(got.status() == 200);
        srv->stop();
        (void)co_await rep.done.wait();
        REQUIRE(rep.served);
        CHECK(*rep.served);  // stopped, not cancelled
        CHECK(rep.open_at_return == 0);
    }(clock));
}

TEST_CASE("http server cancel: a request in flight that finishes within shutdown_grace still "
          "gets its whole answer, and serve returns then, before the grace is over") {
    corio::manual_clock clock;
    run_on_clock(clock, [](corio::manual_clock& clock) -> task<> {
        handlers h;
        server_options o;
        o.shutdown_grace = 10s;
        std::unique_ptr<server> srv = make_server(h, o);
        auto listener = bind_loopback();
        serve_report rep;
        corio::spawn(serve_then_destroy(srv, listener, rep, 1s));
        const auto at = endpoint_of(listener);
        auto idle = co_await tcp_stream::connect(at);
        require_ok(idle, "connect idle");
        auto busy = co_await tcp_stream::connect(at);
        require_ok(busy, "connect busy");
        response_reader busy_rd{*busy};
        co_await send(*busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
        (void)co_await h.entered.wait();

        clock.advance(1s);  // with_timeout cancels serve()
        const std::size_t idle_rest = co_await bytes_until_closed(*idle);
        CHECK(idle_rest == 0);
        CHECK_FALSE(rep.done.is_set());

        h.release.set();  // the handler finishes well within the grace
        const reply last = co_await busy_rd.next();
        CHECK(last.status() == 200);
        CHECK(last.body == "finished");
        CHECK(last.field("Connection") == "close");
        const bool closed = co_await busy_rd.at_end();
        CHECK(closed);
        (void)co_await rep.done.wait();  // no clock advance: serve ends with its last connection
        REQUIRE(rep.served);
        CHECK(rep.served->error() == std::errc::operation_canceled);
        CHECK(rep.open_at_return == 0);
    }(clock));
}

}  // namespace
