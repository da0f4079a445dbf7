// SPDX-License-Identifier: MIT
// UDP fixtures for the net tests: sockets bound to port 0 on loopback, text as bytes.
#pragma once

#include <corio/net/udp_socket.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace corio_test {

/// A UDP socket on port 0 of `address` (127.0.0.1 unless told); the test fails if bind does.
inline corio::net::udp_socket bind_udp(
    corio::net::ip_address address = corio::net::ip_address::v4_loopback(),
    corio::net::udp_options options = {}) {
    auto s = corio::net::udp_socket::bind({address, 0}, options);
    INFO("bind " << address.to_string() << ": " << s.error().message());
    REQUIRE(s);
    return std::move(*s);
}

/// Where `s` is bound; the test fails if that cannot be read.
inline corio::net::endpoint udp_endpoint(const corio::net::udp_socket& s) {
    auto ep = s.local_endpoint();
    INFO("local_endpoint: " << ep.error().message());
    REQUIRE(ep);
    return *ep;
}

/// A socket on [::1]:0, or nullopt when this machine has no IPv6 loopback (the caller WARNs).
inline std::optional<corio::net::udp_socket> bind_udp_v6(corio::net::udp_options options = {}) {
    auto s = corio::net::udp_socket::bind({corio::net::ip_address::v6_loopback(), 0}, options);
    if (!s) {
        return std::nullopt;
    }
    return std::move(*s);
}

inline std::span<const std::byte> datagram_of(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline std::string text_of(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace corio_test
