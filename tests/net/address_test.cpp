// SPDX-License-Identifier: MIT
// Tests for corio/net/address.hpp: parsing, formatting, sockaddr conversion, ordering, hashing.
#include <corio/net/address.hpp>

#include <catch2/catch.hpp>

#include <corio/error.hpp>

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

using corio::net::address_family;
using corio::net::endpoint;
using corio::net::ip_address;
using namespace std::literals;

namespace {

ip_address must_parse(std::string_view text) {
    corio::result<ip_address> r = ip_address::parse(text);
    INFO("text: " << text << " error: " << r.error().message());
    REQUIRE(r);
    return *r;
}

endpoint must_parse_endpoint(std::string_view text) {
    corio::result<endpoint> r = endpoint::parse(text);
    INFO("text: " << text << " error: " << r.error().message());
    REQUIRE(r);
    return *r;
}

// Printable form of a test input, so that NULs and long strings show up readably in reports.
std::string shown(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 60)) {
        out += c == '\0' ? "\\0"s : std::string(1, c);
    }
    return text.size() > 60 ? out + "... (" + std::to_string(text.size()) + " bytes)" : out;
}

}  // namespace

TEST_CASE("a default ip_address is 0.0.0.0 and a default endpoint is 0.0.0.0:0") {
    CHECK(ip_address() == ip_address::v4_any());
    CHECK(ip_address().to_string() == "0.0.0.0");
    CHECK(ip_address().is_v4());
    CHECK(endpoint().to_string() == "0.0.0.0:0");
}

TEST_CASE("the named addresses have the expected text and properties") {
    CHECK(ip_address::v4_any().to_string() == "0.0.0.0");
    CHECK(ip_address::v4_loopback().to_string() == "127.0.0.1");
    CHECK(ip_address::v6_any().to_string() == "::");
    CHECK(ip_address::v6_loopback().to_string() == "::1");
    CHECK(ip_address::v4_any().is_unspecified());
    CHECK(ip_address::v6_any().is_unspecified());
    CHECK(ip_address::v4_loopback().is_loopback());
    CHECK(ip_address::v6_loopback().is_loopback());
    CHECK(ip_address::v6_any().family() == address_family::v6);
    CHECK_FALSE(ip_address::v6_loopback().is_unspecified());
    CHECK_FALSE(ip_address::v4_any().is_loopback());
}

TEST_CASE("IPv4 text parses to its bytes and formats back unchanged") {
    auto [text, bytes] = GENERATE(table<std::string_view, std::array<std::uint8_t, 4>>({
        {"0.0.0.0", {0, 0, 0, 0}},
        {"127.0.0.1", {127, 0, 0, 1}},
        {"1.2.3.4", {1, 2, 3, 4}},
        {"10.0.0.255", {10, 0, 0, 255}},
        {"192.168.100.200", {192, 168, 100, 200}},
        {"255.255.255.255", {255, 255, 255, 255}},
    }));
    ip_address a = must_parse(text);
    CHECK(a.is_v4());
    CHECK(a.family() == address_family::v4);
    CHECK(a.to_v4_bytes() == bytes);
    CHECK(a.scope_id() == 0);
    CHECK(a.to_string() == text);
    CHECK(a == ip_address::from_v4_bytes(bytes));
}

TEST_CASE("IPv6 text formats in RFC 5952 canonical form") {
    auto [text, canonical] = GENERATE(table<std::string_view, std::string_view>({
        {"::", "::"},
        {"::1", "::1"},
        {"0:0:0:0:0:0:0:0", "::"},
        {"0:0:0:0:0:0:0:1", "::1"},
        {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
        {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
        {"2001:db8::1", "2001:db8::1"},
        {"1::", "1::"},
        {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},  // 4.2.2: one zero group is not compressed
        {"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
        {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
        {"1:0:0:1:0:0:0:1", "1:0:0:1::1"},    // 4.2.3: the longest run is compressed
        {"1:0:0:1:1:0:0:1", "1::1:1:0:0:1"},  // 4.2.3: the first of equal runs
        {"FE80::ABCD", "fe80::abcd"},         // 4.3: lower case
        {"ff02::1", "ff02::1"},
        {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
        {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},  // 5: mixed notation for v4-mapped
        {"::FFFF:0102:0304", "::ffff:1.2.3.4"},
        {"::ffff:0.0.0.0", "::ffff:0.0.0.0"},
        {"::1.2.3.4", "::102:304"},  // deprecated v4-compatible: plain hex
        {"::2:3", "::2:3"},          // glibc inet_ntop says "::0.2.0.3"
        {"::ffff:0:1.2.3.4", "::ffff:0:102:304"},
        {"64:ff9b::1.2.3.4", "64:ff9b::102:304"},
    }));
    ip_address a = must_parse(text);
    CHECK(a.is_v6());
    CHECK(a.to_string() == canonical);
    CHECK(must_parse(canonical) == a);
}

TEST_CASE("v4-mapped addresses are IPv6 and unmap to the IPv4 address they carry") {
    ip_address mapped = must_parse("::ffff:192.0.2.1");
    CHECK(mapped.is_v6());
    CHECK(mapped.is_v4_mapped());
    CHECK(mapped.unmap() == must_parse("192.0.2.1"));
    CHECK(must_parse("192.0.2.1").map_to_v6() == mapped);
    CHECK(mapped != must_parse("192.0.2.1"));
    CHECK_FALSE(must_parse("::1").is_v4_mapped());
    CHECK_FALSE(must_parse("192.0.2.1").is_v4_mapped());
    CHECK(must_parse("::1").unmap() == must_parse("::1"));
    CHECK(must_parse("::1").map_to_v6() == must_parse("::1"));
    // Like Asio: loopback is a property of the address as written; unmap() to see through it.
    CHECK_FALSE(must_parse("::ffff:127.0.0.1").is_loopback());
    CHECK(must_parse("::ffff:127.0.0.1").unmap().is_loopback());
}

TEST_CASE("a numeric scope id is kept and printed after '%'") {
    ip_address a = must_parse("fe80::1%2");
    CHECK(a.scope_id() == 2);
    CHECK(a.to_string() == "fe80::1%2");
    CHECK(a != must_parse("fe80::1"));
    CHECK(a != must_parse("fe80::1%3"));
    CHECK(must_parse("FE80:0:0:0:0:0:0:1%4294967295").to_string() == "fe80::1%4294967295");
    CHECK(ip_address::from_v6_bytes(must_parse("fe80::1").to_v6_bytes(), 7).to_string() ==
          "fe80::1%7");
}

TEST_CASE("an interface name as scope becomes that interface's index") {
    unsigned lo = ::if_nametoindex("lo");
    corio::result<ip_address> r = ip_address::parse("fe80::1%lo");
    if (lo == 0) {
        // No "lo" in this network namespace: the name cannot be resolved.
        CHECK(r.error() == corio::errc::invalid_address);
    } else {
        REQUIRE(r);
        CHECK(r->scope_id() == lo);
        CHECK(r->to_string() == "fe80::1%" + std::to_string(lo));
    }
    CHECK(ip_address::parse("fe80::1%no-such-if0").error() == corio::errc::invalid_address);
}

TEST_CASE("address classification: loopback, multicast, link-local") {
    CHECK(must_parse("127.255.0.1").is_loopback());
    CHECK_FALSE(must_parse("128.0.0.1").is_loopback());
    CHECK_FALSE(must_parse("::2").is_loopback());
    CHECK(must_parse("224.0.0.1").is_multicast());
    CHECK(must_parse("239.255.255.255").is_multicast());
    CHECK_FALSE(must_parse("240.0.0.1").is_multicast());
    CHECK(must_parse("ff02::1").is_multicast());
    CHECK_FALSE(must_parse("fe02::1").is_multicast());
    CHECK(must_parse("169.254.1.1").is_link_local());
    CHECK_FALSE(must_parse("169.253.1.1").is_link_local());
    CHECK(must_parse("fe80::1").is_link_local());
    CHECK(must_parse("febf::1").is_link_local());
    CHECK_FALSE(must_parse("fec0::1").is_link_local());
    CHECK(must_parse("::%3").is_unspecified());
}

TEST_CASE("asking an address for the other family's bytes is a usage error") {
    CHECK_THROWS_AS(must_parse("::1").to_v4_bytes(), corio::usage_error);
    CHECK_THROWS_AS(must_parse("1.2.3.4").to_v6_bytes(), corio::usage_error);
    CHECK(must_parse("::1").to_v6_bytes()[15] == 1);
}

TEST_CASE("text that is not an IP address is rejected with invalid_address and no exception") {
    std::string_view text =
        GENERATE(as<std::string_view>{}, "", " ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.256.1.1",
                 "1.2.3.-1", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\n", "01.2.3.4", "1.2.3.04",
                 "0x1.2.3.4", "1.2.3.4.", ".1.2.3.4", "127.1", "1..2.3", "a.b.c.d", "localhost",
                 "1.2.3.4%1", "::g", "1::2::3", ":::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6::7:8",
                 "1::2:", ":1::", "12345::", "::ffff:01.2.3.4", "::ffff:1.2.3", "[::1]", "::1 ",
                 "fe80::1%", "fe80::1%0", "fe80::1%01", "fe80::1%-1", "fe80::1%4294967296",
                 "fe80::1% 2", "fe80::1%2 ", "fe80::1%2%3", "%1", "1.2.3.4\0"sv, "1.2\0.3.4"sv,
                 "\0"sv, "::1\0"sv, "fe80::1%lo\0"sv, "fe80::1%a-very-long-interface-name");
    CAPTURE(shown(text));
    corio::result<ip_address> r = ip_address::v4_any();
    REQUIRE_NOTHROW(r = ip_address::parse(text));
    CHECK(r.error() == corio::errc::invalid_address);
}

TEST_CASE("a 10 KB string is rejected as an address and as an endpoint") {
    std::string big(10 * 1024, '1');
    std::string big_v6 = "::" + std::string(10 * 1024, 'f');
    std::string big_port = "1.2.3.4:" + std::string(10 * 1024, '8');
    std::string big_scope = "fe80::1%" + std::string(10 * 1024, 'x');
    for (const std::string& text : {big, big_v6, big_port, big_scope}) {
        CAPTURE(shown(text));
        CHECK(ip_address::parse(text).error() == corio::errc::invalid_address);
        CHECK(endpoint::parse(text).error() == corio::errc::invalid_address);
    }
}

TEST_CASE("endpoint text parses to address and port and formats back unchanged") {
    auto [text, address, port] = GENERATE(table<std::string_view, std::string_view, std::uint16_t>({
        {"1.2.3.4:80", "1.2.3.4", 80},
        {"0.0.0.0:0", "0.0.0.0", 0},
        {"255.255.255.255:65535", "255.255.255.255", 65535},
        {"[::1]:8080", "::1", 8080},
        {"[::]:0", "::", 0},
        {"[fe80::1%2]:80", "fe80::1%2", 80},
        {"[::ffff:1.2.3.4]:443", "::ffff:1.2.3.4", 443},
        {"[2001:db8::1]:1", "2001:db8::1", 1},
    }));
    endpoint e = must_parse_endpoint(text);
    CHECK(e.address() == must_parse(address));
    CHECK(e.port() == port);
    CHECK(e.to_string() == text);
    CHECK(e == endpoint(must_parse(address), port));
}

TEST_CASE("endpoint text is written canonically") {
    CHECK(must_parse_endpoint("[2001:DB8:0::1]:80").to_string() == "[2001:db8::1]:80");
    CHECK(must_parse_endpoint("[FE80::1%3]:9").to_string() == "[fe80::1%3]:9");
}

TEST_CASE("text that is not an endpoint is rejected with invalid_address and no exception") {
    std::string_view text = GENERATE(
        as<std::string_view>{}, "", ":", ":80", "1.2.3.4", "1.2.3.4:", "[::1]", "[::1]:", "[::1]80",
        "::1:80", "::1", "[::1:80", "::1]:80", "[[::1]]:80", "[1.2.3.4]:80", "[]:80",
        "1.2.3.4:65536", "1.2.3.4:99999999999", "1.2.3.4:-1", "1.2.3.4:+80", "1.2.3.4:8a",
        "1.2.3.4:0x50", "1.2.3.4: 80", "1.2.3.4:80 ", " 1.2.3.4:80", "1.2.3.4 :80", "1.2.3.4:080",
        "1.2.3.4:00", "1.2.3.4:80:80", "1.2.3.4::80", "[::1]:80:", "[::1]:80]", "256.1.1.1:80",
        "host:80", "1.2.3.4:8\0"sv, "1.2.3.4\0:80"sv, "[::1\0]:80"sv, "[fe80::1%]:80",
        "1.2.3.4%1:80");
    CAPTURE(shown(text));
    corio::result<endpoint> r = endpoint();
    REQUIRE_NOTHROW(r = endpoint::parse(text));
    CHECK(r.error() == corio::errc::invalid_address);
}

TEST_CASE("endpoint::from takes a numeric host with or without brackets") {
    CHECK(endpoint::from("1.2.3.4", 80)->to_string() == "1.2.3.4:80");
    CHECK(endpoint::from("::1", 80)->to_string() == "[::1]:80");
    CHECK(endpoint::from("[::1]", 80)->to_string() == "[::1]:80");
    CHECK(endpoint::from("fe80::1%5", 7)->address().scope_id() == 5);
    CHECK(endpoint::from("[fe80::1%5]", 7)->to_string() == "[fe80::1%5]:7");
}

TEST_CASE("endpoint::from rejects names, endpoint text and bracketed IPv4") {
    std::string_view host =
        GENERATE(as<std::string_view>{}, "", "localhost", "example.com", "[1.2.3.4]", "[::1",
                 "::1]", "[]", "[", "1.2.3.4:80", "[::1]:80", " ::1", "::1\0"sv);
    CAPTURE(shown(host));
    CHECK(endpoint::from(host, 80).error() == corio::errc::invalid_address);
}

TEST_CASE("an IPv4 endpoint converts to sockaddr_in with the port in network byte order") {
    endpoint e = must_parse_endpoint("192.0.2.7:258");
    sockaddr_storage storage;
    std::memset(&storage, 0xab, sizeof storage);
    std::size_t len = e.to_sockaddr(&storage, sizeof storage);
    REQUIRE(len == sizeof(sockaddr_in));
    sockaddr_in sin;
    std::memcpy(&sin, &storage, sizeof sin);
    CHECK(sin.sin_family == AF_INET);
    CHECK(sin.sin_port == htons(258));
    const auto* port_bytes = reinterpret_cast<const unsigned char*>(&sin.sin_port);
    CHECK(port_bytes[0] == 1);  // 258 = 0x0102, big-endian on the wire
    CHECK(port_bytes[1] == 2);
    CHECK(sin.sin_addr.s_addr == htonl(0xc0000207));
    CHECK(std::memcmp(sin.sin_zero, "\0\0\0\0\0\0\0\0", sizeof sin.sin_zero) == 0);
    CHECK(endpoint::from_sockaddr(&storage, len).value() == e);
}

TEST_CASE("an IPv6 endpoint converts to sockaddr_in6 with scope id and port") {
    endpoint e = must_parse_endpoint("[fe80::1:2%3]:65534");
    sockaddr_storage storage;
    std::memset(&storage, 0xab, sizeof storage);
    std::size_t len = e.to_sockaddr(&storage, sizeof storage);
    REQUIRE(len == sizeof(sockaddr_in6));
    sockaddr_in6 sin6;
    std::memcpy(&sin6, &storage, sizeof sin6);
    CHECK(sin6.sin6_family == AF_INET6);
    CHECK(sin6.sin6_port == htons(65534));
    CHECK(sin6.sin6_scope_id == 3);
    CHECK(sin6.sin6_flowinfo == 0);
    in6_addr expected;
    REQUIRE(::inet_pton(AF_INET6, "fe80::1:2", &expected) == 1);
    CHECK(std::memcmp(&sin6.sin6_addr, &expected, sizeof expected) == 0);
    CHECK(endpoint::from_sockaddr(&storage, len).value() == e);
}

TEST_CASE("sockaddr conversion round-trips through unaligned storage") {
    for (std::string_view text : {"10.1.2.3:1", "[::ffff:10.1.2.3]:2", "[2001:db8::9%12]:443"}) {
        CAPTURE(text);
        endpoint e = must_parse_endpoint(text);
        unsigned char buffer[1 + endpoint::max_sockaddr_size];
        std::size_t len = e.to_sockaddr(buffer + 1, endpoint::max_sockaddr_size);
        REQUIRE(len > 0);
        CHECK(endpoint::from_sockaddr(buffer + 1, len).value() == e);
    }
}

TEST_CASE("to_sockaddr writes nothing and returns 0 when the storage is too small") {
    unsigned char buffer[64];
    std::memset(buffer, 0xab, sizeof buffer);
    CHECK(must_parse_endpoint("1.2.3.4:80").to_sockaddr(buffer, sizeof(sockaddr_in) - 1) == 0);
    CHECK(must_parse_endpoint("[::1]:80").to_sockaddr(buffer, sizeof(sockaddr_in6) - 1) == 0);
    CHECK(must_parse_endpoint("[::1]:80").to_sockaddr(nullptr, sizeof buffer) == 0);
    CHECK(buffer[0] == 0xab);
    CHECK(must_parse_endpoint("1.2.3.4:80").to_sockaddr(buffer, sizeof(sockaddr_in)) ==
          sizeof(sockaddr_in));
}

TEST_CASE("from_sockaddr rejects short lengths, null, AF_UNIX and AF_UNSPEC") {
    sockaddr_storage storage;
    std::size_t len4 = must_parse_endpoint("1.2.3.4:80").to_sockaddr(&storage, sizeof storage);
    CHECK(endpoint::from_sockaddr(&storage, len4 - 1).error() == corio::errc::invalid_address);
    CHECK(endpoint::from_sockaddr(&storage, 1).error() == corio::errc::invalid_address);
    CHECK(endpoint::from_sockaddr(&storage, 0).error() == corio::errc::invalid_address);
    std::size_t len6 = must_parse_endpoint("[::1]:80").to_sockaddr(&storage, sizeof storage);
    CHECK(endpoint::from_sockaddr(&storage, len6 - 1).error() == corio::errc::invalid_address);
    CHECK(endpoint::from_sockaddr(&storage, len4).error() == corio::errc::invalid_address);
    CHECK(endpoint::from_sockaddr(nullptr, sizeof storage).error() == corio::errc::invalid_address);

    sockaddr_un sun;
    std::memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    std::strcpy(sun.sun_path, "/tmp/corio.sock");
    CHECK(endpoint::from_sockaddr(&sun, sizeof sun).error() == corio::errc::invalid_address);

    std::memset(&storage, 0, sizeof storage);
    storage.ss_family = AF_UNSPEC;
    CHECK(endpoint::from_sockaddr(&storage, sizeof storage).error() ==
          corio::errc::invalid_address);
}

TEST_CASE("addresses order by family, then bytes, then scope id") {
    std::vector<ip_address> sorted = {
        must_parse("0.0.0.0"),   must_parse("1.2.3.4"),   must_parse("1.2.3.5"),
        must_parse("255.0.0.0"), must_parse("::"),        must_parse("::1"),
        must_parse("fe80::1"),   must_parse("fe80::1%1"), must_parse("fe80::1%2"),
        must_parse("fe80::2"),
    };
    for (std::size_t i = 0; i + 1 < sorted.size(); ++i) {
        CAPTURE(sorted[i].to_string(), sorted[i + 1].to_string());
        CHECK(sorted[i] < sorted[i + 1]);
        CHECK(sorted[i] != sorted[i + 1]);
        CHECK((sorted[i] <=> sorted[i + 1]) == std::strong_ordering::less);
    }
    CHECK(must_parse("1.2.3.4") == ip_address::from_v4_bytes({1, 2, 3, 4}));
    // Same bytes in another family are another address.
    CHECK(ip_address::from_v4_bytes({0, 0, 0, 0}) != ip_address::v6_any());
}

TEST_CASE("endpoints order by address, then port") {
    CHECK(endpoint(ip_address::v4_loopback(), 80) < endpoint(ip_address::v4_loopback(), 81));
    CHECK(endpoint(ip_address::v4_loopback(), 65535) < endpoint(ip_address::v6_any(), 0));
    CHECK(endpoint(ip_address::v6_loopback(), 1) == must_parse_endpoint("[::1]:1"));
    CHECK(endpoint(ip_address::v6_loopback(), 1) != must_parse_endpoint("[::1]:2"));
}

TEST_CASE("equal addresses and endpoints hash equal and work as map keys") {
    std::hash<ip_address> hash_address;
    std::hash<endpoint> hash_endpoint;
    CHECK(hash_address(must_parse("2001:DB8::1")) == hash_address(must_parse("2001:db8:0::1")));
    CHECK(hash_endpoint(must_parse_endpoint("1.2.3.4:80")) ==
          hash_endpoint(endpoint(ip_address::from_v4_bytes({1, 2, 3, 4}), 80)));

    std::unordered_set<ip_address> addresses;
    for (std::string_view text :
         {"1.2.3.4", "::1", "fe80::1", "fe80::1%1", "::ffff:1.2.3.4", "0.0.0.0", "::", "1.2.3.4"}) {
        addresses.insert(must_parse(text));
    }
    CHECK(addresses.size() == 7);
    CHECK(addresses.count(must_parse("0:0::1")) == 1);

    std::unordered_map<endpoint, int> by_endpoint;
    std::map<endpoint, int> ordered;
    for (std::uint16_t port = 0; port < 100; ++port) {
        by_endpoint[endpoint(ip_address::v4_loopback(), port)] = port;
        ordered[endpoint(ip_address::v6_loopback(), port)] = port;
    }
    CHECK(by_endpoint.size() == 100);
    CHECK(by_endpoint.at(must_parse_endpoint("127.0.0.1:42")) == 42);
    CHECK(ordered.begin()->second == 0);
    CHECK(ordered.rbegin()->second == 99);

    // Nearby ports should not collide: a map keyed by endpoint relies on it.
    std::set<std::size_t> hashes;
    for (std::uint16_t port = 0; port < 1000; ++port) {
        hashes.insert(hash_endpoint(endpoint(ip_address::v4_loopback(), port)));
    }
    CHECK(hashes.size() == 1000);
}
