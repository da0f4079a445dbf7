// SPDX-License-Identifier: MIT
// Tests for corio/net/udp_socket.hpp's options and errors: broadcast, multicast (a looped-back
// round trip where an interface routes it), and bad input reported as values.
#include <corio/net/udp_socket.hpp>

#include <corio/cancel.hpp>
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include "support/net_loopback.hpp"
#include "support/udp_loopback.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

using corio::task;
using corio::net::address_family;
using corio::net::datagram_info;
using corio::net::endpoint;
using corio::net::ip_address;
using corio::net::udp_options;
using corio::net::udp_socket;
using namespace corio_test;
using namespace std::chrono_literals;

namespace {

task<corio::result<datagram_info>> receive(udp_socket& s, std::span<std::byte> buf) {
    co_return co_await s.recv_from(buf);
}

int int_option(udp_socket& s, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    REQUIRE(::getsockopt(s.handle().fd(), level, name, &v, &len) == 0);
    return v;
}

// An interface that is up, does multicast and has an address of `family`: the one a looped-back
// multicast datagram can be sent on. nullopt when the machine has none (the test WARNs).
std::optional<unsigned> multicast_interface(int family) {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) {
        return std::nullopt;
    }
    std::optional<unsigned> found;
    for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
        const unsigned want = IFF_UP | IFF_MULTICAST;
        if (i->ifa_addr && i->ifa_addr->sa_family == family && (i->ifa_flags & want) == want) {
            found = ::if_nametoindex(i->ifa_name);
        }
    }
    ::freeifaddrs(list);
    return found;
}

// Sends one datagram to `group` on interface `index` with loop on and hops 0 (it never leaves
// this host) and receives it on a member socket: the looped-back copy the kernel delivers.
task<> multicast_round_trip(ip_address group, unsigned index) {
    const bool v4 = group.is_v4();
    udp_options shared;
    shared.reuse_address = true;
    shared.v6_only = true;
    auto member = udp_socket::bind({v4 ? ip_address::v4_any() : ip_address::v6_any(), 0}, shared);
    require_ok(member, "bind member");
    auto joined = member->join_multicast(group, index);
    require_ok(joined, "join_multicast");
    CHECK(member->join_multicast(group, index).error() == std::errc::address_in_use);
    auto sender = udp_socket::open(group.family());
    require_ok(sender, "open sender");
    REQUIRE(sender->set_multicast_interface(index));
    REQUIRE(sender->set_multicast_loop(true));
    REQUIRE(sender->set_multicast_hops(0));
    const int level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
    CHECK(int_option(*sender, level, v4 ? IP_MULTICAST_LOOP : IPV6_MULTICAST_LOOP) == 1);
    CHECK(int_option(*sender, level, v4 ? IP_MULTICAST_TTL : IPV6_MULTICAST_HOPS) == 0);
    const endpoint to(group, udp_endpoint(*member).port());
    require_ok(co_await sender->send_to(datagram_of("to the group"), to), "send_to group");
    std::array<std::byte, 32> buf{};
    auto got = co_await corio::with_timeout(5s, receive(*member, buf));
    require_ok(got, "recv_from group (looped back)");
    CHECK(text_of(std::span(buf).first(got->size)) == "to the group");
    CHECK(got->sender.port() == udp_endpoint(*sender).port());
    REQUIRE(member->leave_multicast(group, index));
    CHECK(member->leave_multicast(group, index).error() == std::errc::address_not_available);
}

TEST_CASE("an IPv4 multicast datagram looped back on this host reaches a member") {
    const auto index = multicast_interface(AF_INET);
    if (!index) {
        WARN("skipped: no interface is up with multicast and an IPv4 address, so no "
             "multicast route: the round trip cannot be tested on this machine");
        return;
    }
    run_test(multicast_round_trip(*ip_address::parse("239.255.43.17"), *index));
}

TEST_CASE("an IPv6 multicast datagram looped back on this host reaches a member") {
    const auto index = multicast_interface(AF_INET6);
    if (!index || !bind_udp_v6()) {
        WARN("skipped: no interface is up with multicast and an IPv6 address, or no IPv6");
        return;
    }
    run_test(multicast_round_trip(*ip_address::parse("ff12::c0:4317"), *index));
}

TEST_CASE("multicast options refuse what cannot be") {
    udp_socket s = bind_udp();
    CHECK(s.join_multicast(*ip_address::parse("ff12::1")).error() ==
          std::errc::address_family_not_supported);
    CHECK(s.join_multicast(ip_address::v4_loopback()).error() == std::errc::invalid_argument);
    CHECK(s.join_multicast(*ip_address::parse("239.255.43.18"), 999999).error() ==
          std::errc::no_such_device);
    CHECK(s.leave_multicast(*ip_address::parse("239.255.43.18")).error() ==
          std::errc::address_not_available);
    CHECK(s.set_multicast_interface(999999).error() == std::errc::no_such_device);
    CHECK(s.set_multicast_hops(256).error() == std::errc::invalid_argument);
    CHECK(s.set_multicast_hops(-1).error() == std::errc::invalid_argument);
    REQUIRE(s.set_multicast_loop(false));
    CHECK(int_option(s, IPPROTO_IP, IP_MULTICAST_LOOP) == 0);
}

TEST_CASE("broadcast needs set_broadcast(true): EACCES without it, delivered with it") {
    run_test([]() -> task<> {
        udp_socket listener = bind_udp(ip_address::v4_any());  // broadcasts reach wildcard binds
        udp_socket s = bind_udp();
        const endpoint everyone(*ip_address::parse("127.255.255.255"), udp_endpoint(listener).port());
        REQUIRE(s.set_broadcast(true));
        CHECK(int_option(s, SOL_SOCKET, SO_BROADCAST) == 1);
        auto sent = co_await s.send_to(datagram_of("hello all"), everyone);
        if (!sent && sent.error() == std::errc::network_unreachable) {
            WARN("skipped: no broadcast route for 127.255.255.255 on this machine");
            co_return;
        }
        require_ok(sent, "send_to broadcast");
        std::array<std::byte, 16> buf{};
        auto got = co_await corio::with_timeout(5s, receive(listener, buf));
        require_ok(got, "recv_from broadcast");
        CHECK(text_of(std::span(buf).first(got->size)) == "hello all");
        REQUIRE(s.set_broadcast(false));
        auto refused = co_await s.send_to(datagram_of("again"), everyone);
        CHECK(refused.error() == std::errc::permission_denied);
    }());
}

TEST_CASE("bad input is an error value: addresses, families, sizes, a closed socket") {
    run_test([]() -> task<> {
        auto foreign = udp_socket::bind({*ip_address::parse("203.0.113.7"), 0});
        CHECK(foreign.error() == std::errc::address_not_available);
        udp_socket s = bind_udp();
        auto twice = udp_socket::bind(udp_endpoint(s));
        CHECK(twice.error() == std::errc::address_in_use);
        const endpoint v6_peer(ip_address::v6_loopback(), 9);
        auto other_family = co_await s.send_to(datagram_of("x"), v6_peer);
        CHECK(other_family.error() == std::errc::address_family_not_supported);
        CHECK(s.connect(v6_peer).error() == std::errc::address_family_not_supported);
        std::vector<std::byte> huge(70000);
        auto too_big = co_await s.send_to(huge, udp_endpoint(s));
        CHECK(too_big.error() == std::errc::message_size);
        if (auto v6_only = bind_udp_v6([] { udp_options o; o.v6_only = true; return o; }())) {
            auto refused = co_await v6_only->send_to(datagram_of("x"), udp_endpoint(s));
            CHECK(refused.error() == std::errc::address_family_not_supported);
        } else {
            WARN("IPv4 to a v6_only socket not tested: cannot bind [::1]");
        }
        udp_socket never_opened;
        std::array<std::byte, 4> buf{};
        auto closed = co_await never_opened.recv_from(buf);
        CHECK(closed.error() == corio::errc::closed);
        auto closed_send = co_await never_opened.send_to(datagram_of("x"), udp_endpoint(s));
        CHECK(closed_send.error() == corio::errc::closed);
        CHECK(never_opened.set_broadcast(true).error() == std::errc::bad_file_descriptor);
        CHECK(never_opened.local_endpoint().error() == std::errc::bad_file_descriptor);
    }());
}

}  // namespace
