// SPDX-License-Identifier: MIT
// corio::http::server once a request has arrived: slow handlers outlive the client timeouts,
// stop() lets an answer being written finish, absolute-form targets keep their path, rejections
// are answered whole, any exception is a 500, and every answer counts in the latency histogram.
#include "support/http_fixture.hpp"

#include <string>

namespace {

using namespace corio_test;
using namespace std::chrono_literals;

// The bytes of a big response: a pattern, so that a truncated or shifted body shows.
std::string big_body(std::size_t size) {
    std::string body(size, '\0');
    fill_pattern(7, 0, std::as_writable_bytes(std::span(body)));
    return body;
}

TEST_CASE("http server edge: a handler slower than the header and idle timeouts still answers") {
    run_test([]() -> task<> {
        server_options o;
        o.header_timeout = 50ms;
        o.idle_timeout = 50ms;
        fixture f(o, [](router& r) {
            r.route(method::get, "/slow", [](const request&) -> task<response> {
                auto slept = co_await corio::sleep_for(200ms);  // four times either timeout
                if (!slept) {  // a client timeout cancelled the handler's own wait
                    co_return response(503, "cancelled: " + slept.error().message());
                }
                co_return response(200, "slow but here");
            });
        });
        auto s = co_await f.connect();
        response_reader rd{s};
        co_await send(s, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
        const reply r = co_await rd.next();
        CHECK(r.status() == 200);
        CHECK(r.body == "slow but here");
        co_await f.stop();
    }());
}

TEST_CASE("http server edge: an absolute-form target with a body is routed by its path") {
    run_test([]() -> task<> {
        fixture f({}, [](router& r) {
            r.route(method::post, "/target", [](const request& req) -> task<response> {
                co_return response(200, std::string(req.path) + "|" + std::string(req.query) + "|" +
                                            std::string(req.body));
            });
        });
        auto s = co_await f.connect();
        response_reader rd{s};
        co_await send(s, "POST http://example.com/target?a=1 HTTP/1.1\r\nHost: example.com\r\n"
                         "Content-Length: 5\r\n\r\nhello");
        const reply with_query = co_await rd.next();
        CHECK(with_query.body == "/target|a=1|hello");
        co_await send(s, "POST HTTP://example.com/target HTTP/1.1\r\nHost: example.com\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        const reply chunked = co_await rd.next();
        CHECK(chunked.body == "/target||abc");
        co_await f.stop();
    }());
}

TEST_CASE("http server edge: stop() lets an answer that is being written finish") {
    run_test([]() -> task<> {
        constexpr std::size_t size = 32 << 20;  // far beyond loopback's socket buffers
        corio::event answered;
        fixture f({}, [&answered](router& r) {
            r.route(method::get, "/big", [&answered](const request&) -> task<response> {
                answered.set();
                co_return response(200, big_body(size), "application/octet-stream");
            });
        });
        auto s = co_await f.connect();
        response_reader rd{s};
        co_await send(s, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
        // The handler has returned; the server wrote what the socket took and waits to write
        // the rest, since nothing reads it yet: no handler runs and no request is pending.
        (void)co_await answered.wait();
        f.srv->stop();
        const reply r = co_await rd.next();
        CHECK(r.status() == 200);
        CHECK(r.field("Connection") == "");  // it was sent before stop(), as keep-alive
        CHECK(r.body.size() == size);
        CHECK(r.body == big_body(size));
        const bool closed = co_await rd.at_end();
        CHECK(closed);  // then the server closed the connection it had finished with
        co_await f.stop();
    }());
}

TEST_CASE("http server edge: a rejection after a HEAD request still carries its body") {
    run_test([]() -> task<> {
        fixture f;
        auto s = co_await f.connect();
        response_reader rd{s};
        co_await send(s, "HEAD /plaintext HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/2.0\r\nHost: x\r\n\r\n");
        const reply head = co_await rd.next(true);
        CHECK(head.status() == 200);
        const reply rejected = co_await rd.next();
        CHECK(rejected.status() == 505);
        CHECK_FALSE(rejected.body.empty());
        CHECK(rejected.field("Content-Length") == std::to_string(rejected.body.size()));
        co_await f.stop();
    }());
}

TEST_CASE("http server edge: any exception from a handler is answered 500") {
    run_test([]() -> task<> {
        fixture f({}, [](router& r) {
            r.route(method::get, "/throw-int", [](const request&) -> task<response> {
                throw 42;  // not a std::exception
                co_return response(200);
            });
        });
        auto s = co_await f.connect();
        response_reader rd{s};
        co_await send(s, "GET /throw-int HTTP/1.1\r\nHost: x\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
        const reply failed = co_await rd.next();
        CHECK(failed.status() == 500);
        const reply next = co_await rd.next();  // and the connection goes on
        CHECK(next.body == "Hello, World!");
        co_await f.stop();
    }());
}

TEST_CASE("http server edge: Allow names each method once when GET and HEAD both have routes") {
    run_test([]() -> task<> {
        fixture f({}, [](router& r) {
            r.route(method::head, "/plaintext", [](const request&) -> task<response> {
                co_return response(200, "Hello, World!", "text/plain");
            });
        });
        auto s = co_await f.connect();
        response_reader rd{s};
        co_await send(s, "DELETE /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
        const reply r = co_await rd.next();
        CHECK(r.status() == 405);
        CHECK(r.field("Allow") == "GET, HEAD");
        co_await f.stop();
    }());
}

TEST_CASE("http server edge: rejections count in the latency histogram like any answer") {
    run_test([]() -> task<> {
        fixture f;
        auto bad = co_await f.connect();
        response_reader bad_rd{bad};
        co_await send(bad, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n");
        const reply ok = co_await bad_rd.next();
        CHECK(ok.status() == 200);
        const reply rejected = co_await bad_rd.next();
        CHECK(rejected.status() == 400);
        auto s = co_await f.connect();
        response_reader rd{s};
        co_await send(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        const reply metrics = co_await rd.next();
        CAPTURE(metrics.body);
        CHECK(metrics.body.find("corio_http_requests_total{code=\"2xx\"} 1\n") != std::string::npos);
        CHECK(metrics.body.find("corio_http_requests_total{code=\"4xx\"} 1\n") != std::string::npos);
        CHECK(metrics.body.find("corio_http_request_duration_seconds_count 2\n") != std::string::npos);
        co_await f.stop();
    }());
}

}  // namespace
