// SPDX-License-Identifier: MIT
// The programs of docs/copy.md, compiled and run as written there.
#include <corio/copy.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/net/tcp_stream.hpp>

#include <catch2/catch.hpp>

#include "support/localhost_listener.hpp"
#include "support/net_loopback.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

using corio::task;
using namespace corio_test;
using namespace std::chrono_literals;

namespace {

// ---- docs/copy.md: relay ----
// Forwards one accepted connection to host:port until both sides have finished (each side's
// half-close is passed on), or until nothing moved either way for 5 minutes.
corio::task<corio::result<corio::copy_totals>> relay(corio::net::tcp_stream client,
                                                     std::string host, std::uint16_t port) {
    auto upstream = co_await corio::net::tcp_stream::connect(std::move(host), port, 10s);
    if (!upstream) {
        co_return upstream.error();  // host_not_found, ECONNREFUSED, timed_out, ...
    }
    corio::copy_options options;
    options.idle_timeout = 300s;
    co_return co_await corio::copy_bidirectional(client, *upstream, options);
}

// ---- docs/copy.md: drain ----
// Sends everything `from` sends to `to`, at most for 30 seconds in all; then `to` sees the end.
corio::task<corio::result<std::uint64_t>> forward(corio::net::tcp_stream& from,
                                                  corio::net::tcp_stream& to) {
    co_return co_await corio::with_timeout(30s, corio::copy(from, to));
}
// ---- end of docs/copy.md ----

}  // namespace

TEST_CASE("docs/copy.md: relay forwards a connection to a named host and passes its end on",
          "[copy_docs_test]") {
    run_test([]() -> task<> {
        auto upstream = bind_localhost();
        const std::uint16_t port = endpoint_of(upstream).port();
        auto front = bind_loopback();
        auto pair = co_await connect_pair(front);
        auto serve_one = [](corio::net::tcp_listener& l) -> task<> {
            auto s = co_await l.accept();
            require_ok(s, "accept");
            co_await echo_until_end(std::move(*s));
        };
        auto client = [](corio::net::tcp_stream& s) -> task<corio::result<std::string>> {
            auto sent = co_await s.send_all(bytes_of("ping"));
            require_ok(sent, "send");
            REQUIRE(s.shutdown(corio::shutdown_how::send));
            co_return co_await recv_to_end(s);
        };
        auto [moved, echoed, served] = co_await corio::when_all(
            relay(std::move(pair.server), "localhost", port), client(pair.client),
            serve_one(upstream));
        (void)served;
        require_ok(moved, "relay");
        CHECK(moved->a_to_b == 4);
        CHECK(moved->b_to_a == 4);
        require_ok(echoed, "recv");
        CHECK(*echoed == "ping");
    }());
}

TEST_CASE("docs/copy.md: forward copies to the end of stream", "[copy_docs_test]") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto in = co_await connect_pair(listener);
        auto out = co_await connect_pair(listener);
        auto feed = [](corio::net::tcp_stream& s) -> task<> {
            auto sent = co_await s.send_all(bytes_of("to the end"));
            require_ok(sent, "send");
            REQUIRE(s.shutdown(corio::shutdown_how::send));
        };
        auto [moved, fed, got] = co_await corio::when_all(forward(in.server, out.client),
                                                          feed(in.client), recv_to_end(out.server));
        (void)fed;
        require_ok(moved, "forward");
        CHECK(*moved == 10);
        require_ok(got, "recv");
        CHECK(*got == "to the end");
    }());
}
