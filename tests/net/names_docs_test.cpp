// SPDX-License-Identifier: MIT
// The programs of docs/net.md ("Names"), compiled and run as written there.
#include <corio/net/resolve.hpp>
#include <corio/net/tcp_stream.hpp>

#include <catch2/catch.hpp>

#include "support/localhost_listener.hpp"
#include "support/net_loopback.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

using corio::task;
using namespace corio_test;
using namespace std::chrono_literals;

namespace {

// ---- docs/net.md: resolve ----
// Every address `host` has for HTTPS, as text; or why there is none.
corio::task<std::vector<std::string>> addresses_of(std::string host) {
    auto found = co_await corio::net::resolve(host, "443");
    if (!found) {
        if (found.error() == corio::net::resolve_errc::host_not_found) {
            co_return std::vector<std::string>{host + ": no such host"};
        }
        co_return std::vector<std::string>{host + ": " + found.error().message()};
    }
    std::vector<std::string> out;
    for (const corio::net::endpoint& ep : *found) {
        out.push_back(ep.to_string());
    }
    co_return out;
}

// ---- docs/net.md: connect ----
// The first line a server at host:port sends, within 5 seconds in all (resolving included).
corio::task<corio::result<std::string>> greeting(std::string host, std::uint16_t port) {
    auto stream = co_await corio::net::tcp_stream::connect(std::move(host), port, 5s);
    if (!stream) {
        co_return stream.error();  // resolve_errc::host_not_found, ECONNREFUSED, timed_out, ...
    }
    std::string line;
    char c = 0;
    while (line.find('\n') == std::string::npos) {
        auto n = co_await stream->recv(std::as_writable_bytes(std::span(&c, 1)));
        if (!n) {
            co_return n.error();
        }
        if (*n == 0) {
            break;
        }
        line += c;
    }
    co_return line;
}
// ---- end of docs/net.md ----

TEST_CASE("docs/net.md: addresses_of lists localhost's addresses and names a missing host") {
    run_test([]() -> task<> {
        auto local = co_await addresses_of("localhost");
        REQUIRE_FALSE(local.empty());
        for (const std::string& text : local) {
            CHECK((text == "127.0.0.1:443" || text == "[::1]:443"));
        }
        const std::string missing = std::string(64, 'x') + ".invalid";
        auto none = co_await addresses_of(missing);
        CHECK(none == std::vector<std::string>{missing + ": no such host"});
    }());
}

TEST_CASE("docs/net.md: greeting reads the first line of a server found by name") {
    run_test([]() -> task<> {
        auto listener = bind_localhost();
        const std::uint16_t port = endpoint_of(listener).port();
        corio::spawn([](corio::net::tcp_listener& l) -> task<> {
            auto s = co_await l.accept();
            require_ok(s, "accept");
            (void)co_await s->send_all(bytes_of("hello\nrest"));
        }(listener));
        auto line = co_await greeting("localhost", port);
        require_ok(line, "greeting");
        CHECK(*line == "hello\n");
    }());
}

}  // namespace
