// SPDX-License-Identifier: MIT
// Tests for corio/net/udp_socket.hpp, one datagram at a time: round trips over IPv4, IPv6 and
// dual stack, truncation, connected sockets and ECONNREFUSED, cancellation, the pooled receive.
#include <corio/net/udp_socket.hpp>

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/stream.hpp>

#include <catch2/catch.hpp>

#include "support/emulated_kqueue.hpp"
#include "support/net_loopback.hpp"
#include "support/udp_loopback.hpp"

#include <array>
#include <cstddef>
#include <stop_token>
#include <string>
#include <vector>

using corio::task;
using corio::net::datagram_info;
using corio::net::endpoint;
using corio::net::ip_address;
using corio::net::udp_socket;
using namespace corio_test;
using namespace std::chrono_literals;

namespace {

// A datagram is not a byte stream: readers and copies over streams must not accept a socket.
static_assert(!corio::async_read_stream<udp_socket>);

// recv_from as a task, for with_timeout.
task<corio::result<datagram_info>> receive(udp_socket& s, std::span<std::byte> buf) {
    co_return co_await s.recv_from(buf);
}

TEST_CASE("a datagram arrives whole with its sender, and the reply goes back to that sender") {
    run_test([]() -> task<> {
        udp_socket a = bind_udp();
        udp_socket b = bind_udp();
        const std::string msg = "ping over udp";
        auto sent = co_await a.send_to(datagram_of(msg), udp_endpoint(b));
        require_ok(sent, "send_to");
        CHECK(*sent == msg.size());
        std::array<std::byte, 64> buf{};
        auto got = co_await b.recv_from(buf);
        require_ok(got, "recv_from");
        CHECK(text_of(std::span(buf).first(got->size)) == msg);
        CHECK(got->length == msg.size());
        CHECK_FALSE(got->truncated());
        CHECK(got->sender == udp_endpoint(a));
        require_ok(co_await b.send_to(datagram_of("pong"), got->sender), "reply");
        auto back = co_await a.recv_from(buf);
        require_ok(back, "recv_from reply");
        CHECK(text_of(std::span(buf).first(back->size)) == "pong");
    }());
}

TEST_CASE("IPv6 datagrams round-trip over ::1") {
    auto probe = bind_udp_v6();
    if (!probe) {
        WARN("skipped: cannot bind [::1] (no IPv6 loopback on this machine)");
        return;
    }
    run_test([](udp_socket a) -> task<> {
        udp_socket b = *bind_udp_v6();
        require_ok(co_await a.send_to(datagram_of("six"), udp_endpoint(b)), "send_to");
        std::array<std::byte, 16> buf{};
        auto got = co_await b.recv_from(buf);
        require_ok(got, "recv_from");
        CHECK(text_of(std::span(buf).first(got->size)) == "six");
        CHECK(got->sender == udp_endpoint(a));
        CHECK(got->sender.address() == ip_address::v6_loopback());
    }(std::move(*probe)));
}

TEST_CASE("a dual-stack IPv6 socket talks to IPv4 peers through v4-mapped addresses") {
    auto dual = udp_socket::bind({ip_address::v6_any(), 0});
    if (!dual) {
        WARN("skipped: cannot bind [::] (" << dual.error().message() << ")");
        return;
    }
    run_test([](udp_socket server) -> task<> {
        udp_socket client = bind_udp();
        const endpoint to(ip_address::v4_loopback(), udp_endpoint(server).port());
        require_ok(co_await client.send_to(datagram_of("v4 to v6"), to), "send_to");
        std::array<std::byte, 16> buf{};
        auto got = co_await server.recv_from(buf);
        require_ok(got, "recv_from");
        CHECK(got->sender.address().is_v4_mapped());
        CHECK(got->sender.address().unmap() == ip_address::v4_loopback());
        // Either form of the address reaches the IPv4 peer: unmapped IPv4 is mapped for the call.
        const endpoint plain(got->sender.address().unmap(), got->sender.port());
        require_ok(co_await server.send_to(datagram_of("mapped"), got->sender), "send mapped");
        require_ok(co_await server.send_to(datagram_of("plain"), plain), "send plain");
        auto first = co_await client.recv_from(buf);
        require_ok(first, "recv 1");
        CHECK(text_of(std::span(buf).first(first->size)) == "mapped");
        auto second = co_await client.recv_from(buf);
        require_ok(second, "recv 2");
        CHECK(text_of(std::span(buf).first(second->size)) == "plain");
    }(std::move(*dual)));
}

TEST_CASE("a datagram longer than the buffer is reported truncated with its real length") {
    run_test([]() -> task<> {
        udp_socket a = bind_udp();
        udp_socket b = bind_udp();
        std::string big(1000, '\0');
        fill_pattern(7, 0, std::as_writable_bytes(std::span(big)));
        require_ok(co_await a.send_to(datagram_of(big), udp_endpoint(b)), "send big");
        require_ok(co_await a.send_to(datagram_of("next"), udp_endpoint(b)), "send next");
        require_ok(co_await a.send_to({}, udp_endpoint(b)), "send empty");
        std::array<std::byte, 10> small{};
        auto cut = co_await b.recv_from(small);
        require_ok(cut, "recv big");
        CHECK(cut->truncated());
        CHECK(cut->size == small.size());
        CHECK(cut->length == big.size());
        CHECK(text_of(small) == big.substr(0, small.size()));
        // The rest of the cut datagram is gone: the next call gets the next datagram whole.
        auto next = co_await b.recv_from(small);
        require_ok(next, "recv next");
        CHECK_FALSE(next->truncated());
        CHECK(text_of(std::span(small).first(next->size)) == "next");
        auto empty = co_await b.recv_from(small);
        require_ok(empty, "recv empty");
        CHECK(empty->size == 0);
        CHECK(empty->length == 0);
        CHECK_FALSE(empty->truncated());
        CHECK(empty->sender == udp_endpoint(a));
    }());
}

TEST_CASE("a connected socket sends and receives without addresses, only from its peer") {
    run_test([]() -> task<> {
        udp_socket peer = bind_udp();
        udp_socket stranger = bind_udp();
        auto opened = udp_socket::open(corio::net::address_family::v4);
        require_ok(opened, "open");
        udp_socket s = std::move(*opened);
        REQUIRE(s.connect(udp_endpoint(peer)));
        CHECK(*s.remote_endpoint() == udp_endpoint(peer));
        require_ok(co_await s.send(datagram_of("hello peer")), "send");
        std::array<std::byte, 32> buf{};
        auto got = co_await peer.recv_from(buf);
        require_ok(got, "peer recv_from");
        CHECK(text_of(std::span(buf).first(got->size)) == "hello peer");
        CHECK(got->sender == udp_endpoint(s));  // connect bound it to an ephemeral port
        // The kernel drops the stranger's datagram on arrival; only the peer's is received.
        require_ok(co_await stranger.send_to(datagram_of("not for you"), udp_endpoint(s)), "stranger");
        require_ok(co_await peer.send_to(datagram_of("reply"), udp_endpoint(s)), "peer reply");
        auto reply = co_await s.recv(buf);
        require_ok(reply, "recv");
        CHECK(text_of(std::span(buf).first(reply->size)) == "reply");
        CHECK(reply->sender == udp_endpoint(peer));
        REQUIRE(s.disconnect());
        CHECK(s.remote_endpoint().error() == std::errc::not_connected);
        auto unaddressed = co_await s.send(datagram_of("to whom?"));
        CHECK(unaddressed.error() == std::errc::destination_address_required);
    }());
}

TEST_CASE("a connected socket whose peer's port is closed gets ECONNREFUSED as a value") {
    if (on_emulated_kqueue()) {
        WARN("skipped on libkqueue: it reads SO_ERROR itself when it reports the event "
             "(src/linux/read.c), which clears the ECONNREFUSED this test expects");
        return;
    }
    run_test([]() -> task<> {
        endpoint closed_port;
        {
            udp_socket gone = bind_udp();
            closed_port = udp_endpoint(gone);
        }  // closed: a datagram to its port draws an ICMP port unreachable
        udp_socket s = bind_udp();
        REQUIRE(s.connect(closed_port));
        require_ok(co_await s.send(datagram_of("anyone?")), "send");
        std::array<std::byte, 16> buf{};
        auto r = co_await s.recv(buf);  // parks until the ICMP error arrives, or sees it at once
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::connection_refused);
    }());
}

TEST_CASE("a cancelled recv_from resumes with operation_canceled and takes no datagram") {
    run_test([]() -> task<> {
        udp_socket a = bind_udp();
        udp_socket b = bind_udp();
        std::stop_source stop;
        outcome<datagram_info> parked;
        std::array<std::byte, 16> buf{};
        corio::spawn([](udp_socket& s, std::span<std::byte> into, std::stop_token token,
                        outcome<datagram_info>& out) -> task<> {
            out.value = co_await s.recv_from(into, token);
            out.done.set();
        }(b, buf, stop.get_token(), parked));
        co_await corio::yield();  // the receiver runs first and parks: nothing is queued
        stop.request_stop();
        (void)co_await parked.done.wait();
        CHECK(parked.value->error() == std::errc::operation_canceled);
        // A timeout is a cancellation too; then the datagram sent afterwards is the next one.
        auto timed = co_await corio::with_timeout(1ms, receive(b, buf));
        CHECK(timed.error() == std::errc::timed_out);
        require_ok(co_await a.send_to(datagram_of("after"), udp_endpoint(b)), "send_to");
        auto got = co_await b.recv_from(buf);
        require_ok(got, "recv_from");
        CHECK(text_of(std::span(buf).first(got->size)) == "after");
    }());
}

TEST_CASE("the pooled recv_from borrows a buffer only for a datagram, truncating past it") {
    run_test([]() -> task<> {
        udp_socket a = bind_udp();
        udp_socket b = bind_udp();
        require_ok(co_await a.send_to(datagram_of("pooled"), udp_endpoint(b)), "send small");
        std::vector<std::byte> big(corio::pooled_buffer::capacity() + 100);
        fill_pattern(3, 0, big);
        require_ok(co_await a.send_to(big, udp_endpoint(b)), "send big");
        auto small = co_await b.recv_from();
        require_ok(small, "recv small");
        CHECK(text_of(small->data.bytes()) == "pooled");
        CHECK(small->info.sender == udp_endpoint(a));
        auto cut = co_await b.recv_from();
        require_ok(cut, "recv big");
        CHECK(cut->info.truncated());
        CHECK(cut->info.length == big.size());
        CHECK(cut->data.size() == corio::pooled_buffer::capacity());
        CHECK_FALSE(first_difference(3, 0, cut->data.bytes()));
    }());
}

TEST_CASE("closing a socket resumes its parked recv_from with errc::closed") {
    run_test([]() -> task<> {
        udp_socket s = bind_udp();
        outcome<corio::net::pooled_datagram> parked;
        corio::spawn([](udp_socket& s, outcome<corio::net::pooled_datagram>& out) -> task<> {
            out.value = co_await s.recv_from();
            out.done.set();
        }(s, parked));
        co_await corio::yield();
        REQUIRE(s.close());
        (void)co_await parked.done.wait();
        CHECK(parked.value->error() == corio::errc::closed);
        std::array<std::byte, 4> buf{};
        auto later = co_await s.recv_from(buf);
        CHECK(later.error() == corio::errc::closed);
    }());
}

TEST_CASE("a second concurrent receive on one socket throws usage_error") {
    run_test([]() -> task<> {
        udp_socket s = bind_udp();
        std::stop_source stop;
        outcome<corio::net::pooled_datagram> first;
        corio::spawn([](udp_socket& s, std::stop_token t,
                        outcome<corio::net::pooled_datagram>& out) -> task<> {
            out.value = co_await s.recv_from(std::move(t));
            out.done.set();
        }(s, stop.get_token(), first));
        co_await corio::yield();
        bool threw = false;
        try {
            (void)co_await s.recv_from();
        } catch (const corio::usage_error&) {
            threw = true;
        }
        CHECK(threw);
        stop.request_stop();
        (void)co_await first.done.wait();
        CHECK(first.value->error() == std::errc::operation_canceled);
    }());
}

TEST_CASE("receives still parked when the runtime ends are destroyed with their sockets") {
    bool completed = false;
    run_test([](bool& completed) -> task<> {
        corio::spawn([](bool& done) -> task<> {
            udp_socket s = bind_udp();
            (void)co_await s.recv_from();  // nobody sends: parked until the runtime goes
            done = true;
        }(completed));
        corio::spawn([](bool& done) -> task<> {
            udp_socket s = bind_udp();
            std::array<std::byte, 8> storage{};
            std::array<corio::net::datagram_slot, 1> slots{corio::net::datagram_slot{storage, {}}};
            (void)co_await s.recv_many(slots);
            done = true;
        }(completed));
        co_await corio::yield();  // both run and park; the runtime destroys their frames (ASan)
    }(completed));
    CHECK_FALSE(completed);
}

}  // namespace
