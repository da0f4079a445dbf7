// SPDX-License-Identifier: MIT
// Tests for corio/net/unix_address.hpp: path and abstract names, the length limit, bad input,
// and the round trip through sockaddr_un.
#include <corio/net/unix_address.hpp>

#include <corio/error.hpp>

#include <catch2/catch.hpp>

#include <string>

#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/un.h>

using corio::net::unix_address;

TEST_CASE("a path up to 107 bytes is an address; a longer one is filename_too_long") {
    REQUIRE(unix_address::max_length == sizeof(sockaddr_un::sun_path) - 1);
    // Built in place: g++ 12 warns falsely (-Wrestrict) on "/" + std::string(n, c).
    std::string longest(unix_address::max_length, 'a');
    longest[0] = '/';
    auto ok = unix_address::from_path(longest);
    REQUIRE(ok);
    CHECK(ok->is_path());
    CHECK(ok->name() == longest);
    CHECK(ok->to_string() == longest);
    longest.push_back('b');
    auto too_long = unix_address::from_path(longest);
    REQUIRE_FALSE(too_long);
    CHECK(too_long.error() == std::errc::filename_too_long);
}

TEST_CASE("an empty path or one with a NUL byte is invalid_argument") {
    CHECK(unix_address::from_path("").error() == std::errc::invalid_argument);
    CHECK(unix_address::from_path(std::string("a\0b", 3)).error() == std::errc::invalid_argument);
    CHECK(unix_address::from_abstract("").error() == std::errc::invalid_argument);
    CHECK(unix_address::from_abstract(std::string(unix_address::max_length + 1, 'x')).error() ==
          std::errc::filename_too_long);
}

TEST_CASE("addresses survive the round trip through sockaddr_un, abstract NULs included") {
    const std::string with_nul("svc\0x", 5);
    for (const unix_address& a : {*unix_address::from_path("/run/app.sock"),
                                  *unix_address::from_path("rel/x"),
                                  *unix_address::from_abstract(with_nul), unix_address()}) {
        sockaddr_un sun{};
        const auto len = a.to_sockaddr(&sun, sizeof sun);
        REQUIRE(len >= sizeof(sa_family_t));
        auto back = unix_address::from_sockaddr(&sun, len);
        REQUIRE(back);
        CHECK(*back == a);
    }
    CHECK(unix_address::from_abstract(with_nul)->to_string() == "@svc@x");
    CHECK(unix_address().to_string() == "(unnamed)");
}

TEST_CASE("from_sockaddr refuses a null pointer and other families; to_sockaddr a small buffer") {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    CHECK(unix_address::from_sockaddr(&in, sizeof in).error() == corio::errc::invalid_address);
    CHECK(unix_address::from_sockaddr(nullptr, 16).error() == corio::errc::invalid_address);
    char small[8];
    CHECK(unix_address::from_path("/x")->to_sockaddr(small, sizeof small) == 0);
}
