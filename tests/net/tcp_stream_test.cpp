// SPDX-License-Identifier: MIT
// Tests for corio/net/tcp_stream.hpp over loopback: echo, half-close, pooled recv, endpoints,
// socket options, IPv6, end of stream arriving with data, and a parked send's CPU use.
#include <corio/net/tcp_stream.hpp>

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include "support/net_loopback.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

using corio::task;
using corio::net::endpoint;
using corio::net::ip_address;
using corio::net::shutdown_how;
using corio::net::tcp_listener;
using corio::net::tcp_stream;
using namespace corio_test;
using namespace std::chrono_literals;

namespace {

std::string pattern_text(std::uint64_t seed, std::size_t size) {
    std::string s(size, '\0');
    fill_pattern(seed, 0, std::as_writable_bytes(std::span(s)));
    return s;
}

TEST_CASE("bytes sent to an echoing peer come back unchanged, then end of stream") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        corio::spawn(echo_until_end(std::move(server)));
        const std::string msg = "hello over loopback";
        require_ok(co_await client.send_all(bytes_of(msg)), "send_all");
        auto back = co_await recv_exactly(client, msg.size());
        require_ok(back, "recv");
        CHECK(*back == msg);
        REQUIRE(client.shutdown(shutdown_how::send));
        auto rest = co_await recv_to_end(client);
        require_ok(rest, "recv to end");
        CHECK(rest->empty());
    }());
}

struct half_close_server {
    corio::result<std::string> request = std::string();
    corio::result<void> reply;
    corio::event done;
};

// Reads the whole request (it ends when the client shuts down sending), then replies.
task<> serve_after_end_of_stream(tcp_stream& s, const std::string& response,
                                 half_close_server& out) {
    out.request = co_await recv_to_end(s);
    if (out.request) {
        out.reply = co_await s.send_all(bytes_of(response));
    }
    (void)s.close();
    out.done.set();
}

TEST_CASE(
    "after the client shuts down sending, the server reads to end of stream and can "
    "still send the rest") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        const std::string request = pattern_text(1, 100 * 1024);
        const std::string response = pattern_text(2, 2 * 1024 * 1024);  // beyond the buffers
        half_close_server served;
        corio::spawn(serve_after_end_of_stream(server, response, served));
        require_ok(co_await client.send_all(bytes_of(request)), "send_all");
        REQUIRE(client.shutdown(shutdown_how::send));
        auto sent_after = co_await client.send(bytes_of("late"));
        CHECK(sent_after.error() == std::errc::broken_pipe);
        auto got = co_await recv_to_end(client);
        require_ok(got, "recv to end");
        (void)co_await served.done.wait();
        require_ok(served.request, "server recv");
        require_ok(served.reply, "server send");
        CHECK(*served.request == request);
        CHECK(got->size() == response.size());
        CHECK(*got == response);
    }());
}

TEST_CASE("pooled recv returns the bytes that came, then an empty buffer at end of stream") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        require_ok(co_await client.send_all(bytes_of("pooled")), "send_all");
        REQUIRE(client.shutdown(shutdown_how::send));
        std::string got;
        for (;;) {
            auto b = co_await server.recv();
            require_ok(b, "recv");
            if (b->empty()) {
                CHECK(b->data() == nullptr);  // at end of stream no buffer is held
                break;
            }
            CHECK(b->size() <= corio::pooled_buffer::capacity());
            got.append(reinterpret_cast<const char*>(b->data()), b->size());
        }
        CHECK(got == "pooled");
    }());
}

TEST_CASE("each end's remote endpoint is the other end's local endpoint") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        auto client_local = client.local_endpoint();
        auto client_remote = client.remote_endpoint();
        auto server_local = server.local_endpoint();
        auto server_remote = server.remote_endpoint();
        REQUIRE(client_local);
        REQUIRE(client_remote);
        REQUIRE(server_local);
        REQUIRE(server_remote);
        CHECK(*client_remote == endpoint_of(listener));
        CHECK(*server_local == endpoint_of(listener));
        CHECK(*server_remote == *client_local);
        CHECK(client_local->address() == ip_address::v4_loopback());
        CHECK(client_local->port() != 0);
        (void)client.close();
        CHECK(client.local_endpoint().error() == std::errc::bad_file_descriptor);
    }());
}

int nodelay_of(tcp_stream& s) {
    int v = -1;
    socklen_t len = sizeof v;
    REQUIRE(::getsockopt(s.handle().fd(), IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0);
    return v;
}

TEST_CASE("set_nodelay turns TCP_NODELAY on and off, and fails on a closed stream") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        CHECK(nodelay_of(client) == 0);
        REQUIRE(client.set_nodelay(true));
        CHECK(nodelay_of(client) != 0);
        REQUIRE(client.set_nodelay(false));
        CHECK(nodelay_of(client) == 0);
        (void)client.close();
        CHECK(client.set_nodelay(true).error() == std::errc::bad_file_descriptor);
    }());
}

TEST_CASE("connections over IPv6 loopback carry bytes and report v6 endpoints") {
    auto probe = tcp_listener::bind({ip_address::v6_loopback(), 0});
    if (!probe) {
        WARN("skipped: cannot bind [::1]: " << probe.error().message());
        return;
    }
    run_test([&]() -> task<> {
        tcp_listener listener = std::move(*probe);
        auto [client, server] = co_await connect_pair(listener);
        corio::spawn(echo_until_end(std::move(server)));
        require_ok(co_await client.send_all(bytes_of("six")), "send_all");
        auto back = co_await recv_exactly(client, 3);
        require_ok(back, "recv");
        CHECK(*back == "six");
        auto local = client.local_endpoint();
        REQUIRE(local);
        CHECK(local->address() == ip_address::v6_loopback());
        CHECK(*client.remote_endpoint() == endpoint_of(listener));
    }());
}

// Edge-triggered epoll reports EPOLLIN|EPOLLRDHUP once for both: a recv that took the bytes in
// a short read must not conclude that the socket is drained, or the next recv parks for good.
TEST_CASE("recv returns 0 when the peer's last bytes and its end of stream arrive together") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        outcome<std::string> got;
        corio::spawn([](tcp_stream& s, outcome<std::string>& out) -> task<> {
            out.value = co_await corio::with_timeout(5s, recv_to_end(s));
            out.done.set();
        }(server, got));
        co_await corio::yield();  // the reader parks: nothing has been sent yet
        // Neither call suspends, so the bytes and the FIN arrive before the loop polls again.
        require_ok(co_await client.send_all(bytes_of("last words")), "send_all");
        REQUIRE(client.shutdown(shutdown_how::send));
        (void)co_await got.done.wait();
        require_ok(*got.value, "recv to end");
        CHECK(**got.value == "last words");
    }());
}

// Level-triggered epoll keeps reporting a peer's FIN (EPOLLRDHUP) while it is watched: a
// writer parked alone must not have it watched, or the loop spins at full CPU.
TEST_CASE("a send parked after the peer shut down its sending side waits without spinning") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        REQUIRE(client.shutdown(shutdown_how::send));
        auto eof = co_await recv_to_end(server);
        require_ok(eof, "recv");
        std::vector<std::byte> big(64 * 1024 * 1024, std::byte{'x'});
        rusage before{};
        rusage after{};
        ::getrusage(RUSAGE_SELF, &before);
        // The client never reads: the send parks until the deadline.
        auto sent = co_await corio::with_timeout(200ms, server.send_all(big));
        ::getrusage(RUSAGE_SELF, &after);
        CHECK(sent.error() == std::errc::timed_out);
        auto cpu = [](const rusage& u) {
            return std::chrono::seconds(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
                   std::chrono::microseconds(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
        };
        const auto used =
            std::chrono::duration_cast<std::chrono::milliseconds>(cpu(after) - cpu(before));
        CAPTURE(used.count());
        // Filling the socket buffers costs a few ms; spinning costs most of the 200 ms.
        CHECK(used < 60ms);
    }());
}

}  // namespace
