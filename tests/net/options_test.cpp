// SPDX-License-Identifier: MIT
// The options structs of corio::net and corio::http take C++20 designated initializers naming
// only the fields a user sets, with -Wextra -Werror (g++ 12 flags every omitted member that has
// no default member initializer).
#include <corio/http/server.hpp>
#include <corio/net/resolve.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

namespace {

corio::task<corio::result<std::vector<corio::net::endpoint>>> wildcard_v4(std::uint16_t port) {
    co_return co_await corio::net::resolve(
        "", port,
        corio::net::resolve_options{.family = corio::net::address_family::v4, .passive = true});
}

}  // namespace

TEST_CASE("resolve_options{.family = v4, .passive = true}: an empty host is 0.0.0.0") {
    corio::runtime rt;
    auto r = rt.block_on(wildcard_v4(8080));
    REQUIRE(r);
    REQUIRE(r->size() == 1);
    CHECK(r->front().address().is_unspecified());
    CHECK(r->front().port() == 8080);
}

TEST_CASE("listen_options{.reuse_port = true} and server_options{.idle_timeout = ...} build") {
    auto l = corio::net::tcp_listener::bind(
        corio::net::endpoint(corio::net::ip_address::v4_loopback(), 0),
        corio::net::listen_options{.reuse_port = true});
    REQUIRE(l);
    const corio::http::server_options o{.idle_timeout = std::chrono::seconds(5)};
    CHECK(o.idle_timeout == std::chrono::seconds(5));
    CHECK(o.header_timeout == std::chrono::seconds(10));  // the others keep their defaults
}
