// SPDX-License-Identifier: MIT
// Tests for corio/net/resolve.hpp: names and numeric hosts to endpoints, the options, the
// error category, and cancellation while getaddrinfo waits for a pool thread.
#include <corio/net/resolve.hpp>

#include <corio/cancel.hpp>
#include <corio/clock.hpp>
#include <corio/runtime.hpp>
#include <corio/spawn_blocking.hpp>
#include <corio/timer.hpp>

#include <catch2/catch.hpp>

#include "support/blocking_gate.hpp"
#include "support/clock_steps.hpp"
#include "support/net_loopback.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

using corio::task;
using corio::net::address_family;
using corio::net::endpoint;
using corio::net::ip_address;
using corio::net::resolve;
using corio::net::resolve_errc;
using corio::net::resolve_options;
using namespace corio_test;
using namespace std::chrono_literals;

namespace {

using endpoints = corio::result<std::vector<endpoint>>;

// No DNS name has a label longer than 63 characters (RFC 1035), and .invalid is never
// delegated (RFC 2606): the resolver refuses this name without asking a name server.
const std::string unresolvable = std::string(64, 'x') + ".invalid";

// Options with one field set (g++ 12 warns about designated initializers that skip fields).
resolve_options only_family(address_family f) {
    resolve_options o;
    o.family = f;
    return o;
}
resolve_options numeric_only() {
    resolve_options o;
    o.numeric_host = true;
    return o;
}
resolve_options passive() {
    resolve_options o;
    o.passive = true;
    return o;
}

std::vector<endpoint> require_endpoints(const endpoints& r, std::string_view what) {
    require_ok(r, what);
    REQUIRE_FALSE(r->empty());
    return *r;
}

TEST_CASE("resolve: localhost gives loopback endpoints with the port, without duplicates") {
    run_test([]() -> task<> {
        auto r = co_await resolve("localhost", 8080);
        const auto eps = require_endpoints(r, "resolve localhost");
        for (const endpoint& ep : eps) {
            CAPTURE(ep.to_string());
            CHECK(ep.address().is_loopback());
            CHECK(ep.port() == 8080);
            CHECK(std::count(eps.begin(), eps.end(), ep) == 1);
        }
        auto v4 = co_await resolve("localhost", "80", only_family(address_family::v4));
        for (const endpoint& ep : require_endpoints(v4, "resolve localhost, IPv4 only")) {
            CHECK(ep == endpoint(ip_address::v4_loopback(), 80));
        }
    }());
}

TEST_CASE("resolve: numeric hosts are parsed without the blocking pool") {
    // One pool thread, held by a call that waits at a gate: a resolution that needed the pool
    // could not finish before the gate opens.
    corio::runtime rt(with_blocking_threads(1));
    blocking_gate gate;
    rt.block_on([](blocking_gate& gate) -> task<> {
        auto held = [&gate] { return gate.wait(); };
        corio::spawn(corio::spawn_blocking(held));
        co_await corio::yield{};  // the holder is on the pool now (or queued first)
        auto v4 = co_await resolve("127.0.0.1", "8080");
        CHECK(require_endpoints(v4, "127.0.0.1") == std::vector{endpoint(ip_address::v4_loopback(), 8080)});
        auto v6 = co_await resolve("[::1]", 443);
        CHECK(require_endpoints(v6, "[::1]") == std::vector{endpoint(ip_address::v6_loopback(), 443)});
        auto bare_v6 = co_await resolve("::1", "0");
        CHECK(require_endpoints(bare_v6, "::1") == std::vector{endpoint(ip_address::v6_loopback(), 0)});
        auto wrong_family =
            co_await resolve("::1", 80, only_family(address_family::v4));
        CHECK(wrong_family.error() == resolve_errc::address_family);
        auto name = co_await resolve("localhost", 80, numeric_only());
        CHECK(name.error() == resolve_errc::host_not_found);
        CHECK(gate.count() == 0);
        gate.open();
    }(gate));
}

TEST_CASE("resolve: a name that does not resolve is resolve_errc::host_not_found") {
    run_test([]() -> task<> {
        auto r = co_await resolve(unresolvable, 80);
        REQUIRE_FALSE(r);
        CHECK(r.error() == resolve_errc::host_not_found);
        CHECK(r.error().category() == corio::net::resolve_category());
        CHECK(r.error().message() == "host or service not found (the name does not resolve)");
    }());
}

TEST_CASE("resolve: services by name and number, passive and empty hosts") {
    run_test([]() -> task<> {
        if (std::ifstream("/etc/services")) {  // Debian's netbase; a bare container may lack it
            auto http = co_await resolve("127.0.0.1", "http");
            CHECK(require_endpoints(http, "127.0.0.1 http") ==
                  std::vector{endpoint(ip_address::v4_loopback(), 80)});
        } else {
            WARN("no /etc/services: the service name lookup is not tested");
        }
        auto unknown = co_await resolve("127.0.0.1", "no-such-service");
        CHECK(unknown.error() == resolve_errc::service_not_found);
        auto wildcard = co_await resolve("", 8080, passive());
        for (const endpoint& ep : require_endpoints(wildcard, "passive empty host")) {
            CHECK(ep.address().is_unspecified());
            CHECK(ep.port() == 8080);
        }
        auto loopback = co_await resolve("", 8080);
        for (const endpoint& ep : require_endpoints(loopback, "empty host")) {
            CHECK(ep.address().is_loopback());
        }
        auto nul = co_await resolve(std::string("localhost\0evil", 14), 80);
        CHECK(nul.error() == std::errc::invalid_argument);
    }());
}

TEST_CASE("resolve: a timeout or a stop returns at once while getaddrinfo waits for the pool") {
    corio::manual_clock clock;
    corio::runtime_options options = with_blocking_threads(1);
    options.clock = &clock;
    corio::runtime rt(std::move(options));
    blocking_gate gate;
    rt.block_on([](corio::manual_clock& clock, blocking_gate& gate) -> task<> {
        auto held = [&gate] { return gate.wait(); };
        corio::spawn(corio::spawn_blocking(held));
        co_await corio::yield{};
        const auto start = clock.now();
        corio::spawn(advance_in_steps(clock, 10ms, 1));
        auto timed = co_await corio::with_timeout(10ms, resolve("localhost", 80));
        CHECK(timed.error() == std::errc::timed_out);
        CHECK(clock.now() - start == 10ms);

        std::stop_source stop;
        corio::spawn([](std::stop_source& s) -> task<> {
            s.request_stop();
            co_return;
        }(stop));
        auto stopped = co_await resolve("localhost", 80, {}, stop.get_token());
        CHECK(stopped.error() == std::errc::operation_canceled);
        CHECK(gate.count() == 0);  // neither waited for the pool thread
        gate.open();
        // Once the pool is free, a resolution goes through as before.
        auto later = co_await resolve("localhost", 80);
        require_ok(later, "resolve after the pool came free");
    }(clock, gate));
}

TEST_CASE("resolve_errc: compared by name, mapped to portable conditions") {
    const std::error_code ec = resolve_errc::try_again;
    CHECK(ec == resolve_errc::try_again);
    CHECK(ec != resolve_errc::host_not_found);
    CHECK(std::string(ec.category().name()) == "corio.resolve");
    CHECK(ec.message().find("try again") != std::string::npos);
    CHECK(std::error_code(resolve_errc::out_of_memory) == std::errc::not_enough_memory);
    CHECK(std::error_code(resolve_errc::family_not_supported) ==
          std::errc::address_family_not_supported);
    CHECK(std::error_code(resolve_errc::host_not_found) != std::errc::no_such_file_or_directory);
}

}  // namespace
