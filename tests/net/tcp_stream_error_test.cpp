// SPDX-License-Identifier: MIT
// Tests for corio/net/tcp_stream.hpp failures over loopback: resets, refused and timed-out
// connects, and parked operations ended by close, by a stop token or by misuse.
#include <corio/net/tcp_stream.hpp>

#include <corio/error.hpp>
#include <corio/event.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include "support/emulated_kqueue.hpp"
#include "support/net_loopback.hpp"

#include <chrono>
#include <cstddef>
#include <stop_token>
#include <string>
#include <vector>

using corio::task;
using corio::net::endpoint;
using corio::net::ip_address;
using corio::net::tcp_stream;
using namespace corio_test;
using namespace std::chrono_literals;

namespace {

TEST_CASE("a reset by the peer fails a parked recv with ECONNRESET, and a later send too") {
    if (corio_test::on_emulated_kqueue()) {
        WARN("skipped on libkqueue: it reads SO_ERROR itself when it reports the event "
             "(src/linux/read.c, write.c), which clears the error this test expects");
        return;
    }
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        require_ok(co_await client.send_all(bytes_of("partial")), "send_all");
        auto first = co_await recv_exactly(server, 7);
        require_ok(first, "recv");
        CHECK(*first == "partial");
        outcome<std::size_t> parked;
        corio::spawn([](tcp_stream& s, outcome<std::size_t>& out) -> task<> {
            std::byte buf[64];
            out.value = co_await s.recv(buf);
            out.done.set();
        }(server, parked));
        co_await corio::yield();  // the reader runs first and parks: nothing is pending
        reset_connection(client);
        (void)co_await parked.done.wait();
        CHECK(parked.value->error() == std::errc::connection_reset);
        auto later = co_await server.send(bytes_of("anyone there?"));
        REQUIRE_FALSE(later);
        CHECK((later.error() == std::errc::broken_pipe ||
               later.error() == std::errc::connection_reset));
    }());
}

TEST_CASE("a reset by the peer mid-stream fails a parked send with ECONNRESET or EPIPE") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        outcome<std::size_t> sender;
        corio::spawn([](tcp_stream& s, outcome<std::size_t>& out) -> task<> {
            std::vector<std::byte> chunk(64 * 1024, std::byte{'x'});
            for (;;) {  // until the reset: the client stops reading, so this parks
                auto n = co_await s.send(chunk);
                if (!n) {
                    out.value = n;
                    break;
                }
            }
            out.done.set();
        }(server, sender));
        auto some = co_await client.recv();
        require_ok(some, "recv");
        CHECK_FALSE(some->empty());
        reset_connection(client);  // unread bytes remain: the kernel sends a reset
        (void)co_await sender.done.wait();
        const std::error_code e = sender.value->error();
        CAPTURE(e.message());
        CHECK((e == std::errc::connection_reset || e == std::errc::broken_pipe));
    }());
}

TEST_CASE("connect to a port nobody listens on fails with ECONNREFUSED") {
    if (corio_test::on_emulated_kqueue()) {
        WARN("skipped on libkqueue: it reads SO_ERROR itself when it reports the event "
             "(src/linux/read.c, write.c), which clears the error this test expects");
        return;
    }
    run_test([]() -> task<> {
        endpoint closed_port;
        {
            auto listener = bind_loopback();
            closed_port = endpoint_of(listener);
        }  // closed: the port is free again, and a SYN to it gets a reset
        auto s = co_await tcp_stream::connect(closed_port);
        REQUIRE_FALSE(s);
        CHECK(s.error() == std::errc::connection_refused);
    }());
}

TEST_CASE("connect fails with timed_out when its SYN goes unanswered") {
    run_test([]() -> task<> {
        // A listener with backlog 0 that never accepts: once one connection waits in its
        // queue, Linux drops further SYNs (tcp_conn_request: "accept queue full"), and the
        // client would retransmit for a minute. Which connect is the first to hang depends on
        // when the kernel moves the earlier ones to the queue, so keep connecting until one does.
        corio::net::listen_options options;
        options.backlog = 0;
        auto listener = bind_loopback(ip_address::v4_loopback(), options);
        const endpoint ep = endpoint_of(listener);
        std::vector<tcp_stream> queued;
        for (int attempt = 0; attempt < 16; ++attempt) {
            const auto start = std::chrono::steady_clock::now();
            auto s = co_await tcp_stream::connect(ep, 100ms);
            if (s) {
                queued.push_back(std::move(*s));  // it fitted in the queue
                continue;
            }
            CAPTURE(attempt, s.error().message());
            CHECK(s.error() == std::errc::timed_out);
            CHECK(std::chrono::steady_clock::now() - start >= 100ms);
            co_return;
        }
        FAIL("16 connects completed: the listener's queue never filled");
    }());
}

TEST_CASE("connect with an already stopped token fails with operation_canceled") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        std::stop_source stop;
        stop.request_stop();
        auto s = co_await tcp_stream::connect(endpoint_of(listener), {}, stop.get_token());
        REQUIRE_FALSE(s);
        CHECK(s.error() == std::errc::operation_canceled);
    }());
}

TEST_CASE("closing a stream from another task resumes its parked recv with errc::closed") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        corio::spawn([](tcp_stream& s) -> task<> {
            REQUIRE(s.close());
            co_return;
        }(server));
        std::byte buf[64];
        auto n = co_await server.recv(buf);  // parks: the closer runs after this
        CHECK(n.error() == corio::errc::closed);
        CHECK_FALSE(server.is_open());
        auto again = co_await server.recv(buf);
        CHECK(again.error() == corio::errc::closed);
    }());
}

TEST_CASE("closing a stream from another task resumes its parked send with errc::closed") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        corio::spawn([](tcp_stream& s) -> task<> {
            REQUIRE(s.close());
            co_return;
        }(server));
        // The client never reads, so this fills both socket buffers and parks.
        std::vector<std::byte> big(64 * 1024 * 1024, std::byte{'x'});
        auto r = co_await server.send_all(big);
        CHECK(r.error() == corio::errc::closed);
    }());
}

TEST_CASE(
    "a recv cancelled by its stop token fails with operation_canceled and the stream "
    "still works") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        std::stop_source stop;
        corio::spawn([](std::stop_source& s) -> task<> {
            s.request_stop();
            co_return;
        }(stop));
        std::byte buf[64];
        auto n = co_await server.recv(buf, stop.get_token());
        CHECK(n.error() == std::errc::operation_canceled);
        require_ok(co_await client.send_all(bytes_of("after")), "send_all");
        auto later = co_await recv_exactly(server, 5);
        require_ok(later, "recv");
        CHECK(*later == "after");
    }());
}

TEST_CASE("a second concurrent recv on one stream throws usage_error") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        outcome<std::size_t> first;
        corio::spawn([](tcp_stream& s, outcome<std::size_t>& out) -> task<> {
            std::byte buf[64];
            out.value = co_await s.recv(buf);
            out.done.set();
        }(server, first));
        co_await corio::yield();  // the first recv parks
        bool threw = false;
        try {
            std::byte buf[64];
            (void)co_await server.recv(buf);
        } catch (const corio::usage_error&) {
            threw = true;
        }
        CHECK(threw);
        require_ok(co_await client.send_all(bytes_of("x")), "send_all");
        (void)co_await first.done.wait();
        CHECK(first.value->value_or(0) == 1);
    }());
}

}  // namespace
