// SPDX-License-Identifier: MIT
// Tests for corio/net/unix_datagram.hpp: send_to/recv_from with the sender's address,
// truncation reported, connected pairs keeping message boundaries, a receiver whose queue
// fills, cancellation, abstract names and errors.
#include <corio/net/unix_datagram.hpp>

#include <corio/runtime.hpp>
#include <corio/when_all.hpp>

#include <catch2/catch.hpp>

#include "support/net_loopback.hpp"
#include "support/unix_fixture.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

using corio::task;
using corio::net::unix_address;
using corio::net::unix_datagram;
using namespace corio_test;

namespace {

unix_datagram bound(const unix_address& at) {
    auto s = unix_datagram::bind(at);
    INFO("bind " << at.to_string() << ": " << s.error().message());
    REQUIRE(s);
    return std::move(*s);
}

std::string_view text(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

TEST_CASE("send_to delivers one datagram with the sender's address, and the reply comes back") {
    socket_dir dir;
    run_test([](socket_dir& dir) -> task<> {
        auto server = bound(dir.address("server.sock"));
        auto client = bound(dir.address("client.sock"));
        auto sent = co_await client.send_to(bytes_of("ping"), dir.address("server.sock"));
        require_ok(sent, "send_to");
        CHECK(*sent == 4);
        std::byte buf[64];
        auto got = co_await server.recv_from(buf);
        require_ok(got, "recv_from");
        CHECK(text(std::span(buf).first(got->size)) == "ping");
        CHECK_FALSE(got->truncated());
        CHECK(got->peer == dir.address("client.sock"));
        require_ok(co_await server.send_to(bytes_of("pong"), got->peer), "reply");
        auto reply = co_await client.recv_from(buf);
        require_ok(reply, "recv reply");
        CHECK(text(std::span(buf).first(reply->size)) == "pong");
        CHECK(reply->peer == dir.address("server.sock"));
    }(dir));
}

TEST_CASE("a datagram longer than the buffer is reported truncated, with its full size") {
    run_test([]() -> task<> {
        auto [a, b] = *unix_datagram::pair();
        std::string big(100, '\0');
        fill_pattern(5, 0, std::as_writable_bytes(std::span(big)));
        require_ok(co_await a.send(bytes_of(big)), "send big");
        require_ok(co_await a.send(bytes_of("next")), "send next");
        std::byte small[10];
        auto cut = co_await b.recv(small);
        require_ok(cut, "recv big");
        CHECK(cut->size == 10);
        CHECK(cut->full_size == 100);
        CHECK(cut->truncated());
        CHECK(text(small) == std::string_view(big).substr(0, 10));
        auto next = co_await b.recv(small);  // the rest of the big one is gone, not read here
        require_ok(next, "recv next");
        CHECK(text(std::span(small).first(next->size)) == "next");
        CHECK_FALSE(next->truncated());
    }());
}

TEST_CASE("a connected pair keeps message boundaries and order") {
    run_test([]() -> task<> {
        auto [a, b] = *unix_datagram::pair();
        for (std::string_view m : {"one", "two!", "three"}) {
            require_ok(co_await a.send(bytes_of(m)), "send");
        }
        std::byte buf[64];
        for (std::string_view m : {"one", "two!", "three"}) {
            auto got = co_await b.recv(buf);
            require_ok(got, "recv");
            CHECK(text(std::span(buf).first(got->size)) == m);
        }
    }());
}

// Receives `count` datagrams, each holding its index; returns how many came in order.
task<corio::result<int>> receive_in_order(unix_datagram& s, int count) {
    int in_order = 0;
    for (int i = 0; i < count; ++i) {
        std::byte buf[16];
        auto got = co_await s.recv_from(buf);
        if (!got) {
            co_return got.error();
        }
        in_order += text(std::span(buf).first(got->size)) == std::to_string(i) ? 1 : 0;
    }
    co_return in_order;
}

task<corio::result<void>> send_numbered(unix_datagram& s, const unix_address& to, int count) {
    for (int i = 0; i < count; ++i) {
        const std::string m = std::to_string(i);
        if (auto r = co_await s.send_to(bytes_of(m), to); !r) {
            co_return r.error();
        }
    }
    co_return corio::result<void>{};
}

TEST_CASE("send_to a receiver whose queue is full waits, and every datagram arrives in order") {
    // The receiver's queue holds net.unix.max_dgram_qlen datagrams (10 by default): 200
    // unconnected sends fill it over and over while the reader drains it.
    socket_dir dir;
    run_test([](socket_dir& dir) -> task<> {
        auto server = bound(dir.address("r.sock"));
        auto client = *unix_datagram::open();
        constexpr int count = 200;
        auto [sent, received] = co_await corio::when_all(
            send_numbered(client, dir.address("r.sock"), count), receive_in_order(server, count));
        require_ok(sent, "send_to");
        require_ok(received, "recv_from");
        CHECK(*received == count);
    }(dir));
}

TEST_CASE("a cancelled recv_from consumes no datagram") {
    run_test([]() -> task<> {
        auto [a, b] = *unix_datagram::pair();
        std::stop_source stop;
        std::byte buf[16];
        auto none = co_await b.recv_from(buf, stopped_once_parked(stop));
        CHECK(none.error() == std::errc::operation_canceled);
        require_ok(co_await a.send(bytes_of("kept")), "send");
        auto got = co_await b.recv(buf);
        require_ok(got, "recv");
        CHECK(text(std::span(buf).first(got->size)) == "kept");
    }());
}

TEST_CASE("abstract datagram sockets exchange datagrams; connect fixes the peer") {
    run_test([]() -> task<> {
        const unix_address name = unique_abstract();
        auto server = bound(name);
        auto client = *unix_datagram::open();
        REQUIRE(client.connect(name));
        CHECK(*client.remote_address() == name);
        require_ok(co_await client.send(bytes_of("abs")), "send");
        std::byte buf[16];
        auto got = co_await server.recv_from(buf);
        require_ok(got, "recv_from");
        CHECK(text(std::span(buf).first(got->size)) == "abs");
        CHECK(got->peer.is_unnamed());  // an unbound sender has no address to reply to
    }());
}

TEST_CASE("datagram errors: no such path, nothing bound, unnamed; the file is unlinked on close") {
    socket_dir dir;
    run_test([](socket_dir& dir) -> task<> {
        auto s = *unix_datagram::open();
        auto missing = co_await s.send_to(bytes_of("x"), dir.address("missing.sock"));
        CHECK(missing.error() == std::errc::no_such_file_or_directory);
        CHECK(s.connect(dir.address("missing.sock")).error() == std::errc::no_such_file_or_directory);
        auto unnamed = co_await s.send_to(bytes_of("x"), unix_address());
        CHECK(unnamed.error() == std::errc::invalid_argument);
        CHECK(unix_datagram::bind(unix_address()).error() == std::errc::invalid_argument);
        {
            corio::net::unix_bind_options keep;
            keep.unlink_on_close = false;
            auto gone = unix_datagram::bind(dir.address("stale.sock"), keep);
            REQUIRE(gone);
        }
        auto refused = co_await s.send_to(bytes_of("x"), dir.address("stale.sock"));
        CHECK(refused.error() == std::errc::connection_refused);
        corio::net::unix_bind_options replace;
        replace.remove_stale = true;
        auto again = unix_datagram::bind(dir.address("stale.sock"), replace);
        require_ok(again, "bind over a stale file");
        REQUIRE(again->close());
        CHECK_FALSE(is_socket_file(dir.path("stale.sock")));
    }(dir));
}

}  // namespace
