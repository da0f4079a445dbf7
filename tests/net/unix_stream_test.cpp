// SPDX-License-Identifier: MIT
// Tests for corio/net/unix_stream.hpp: exact bytes through a listener, a long full-duplex
// stream, half-close, abstract names, addresses, peer credentials, connect errors,
// cancellation, and EPIPE without SIGPIPE.
#include <corio/net/unix_stream.hpp>

#include <corio/net/unix_listener.hpp>
#include <corio/runtime.hpp>
#include <corio/stream.hpp>
#include <corio/when_all.hpp>

#include <catch2/catch.hpp>

#include "support/net_loopback.hpp"
#include "support/unix_fixture.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

using corio::task;
using corio::net::shutdown_how;
using corio::net::unix_address;
using corio::net::unix_listener;
using corio::net::unix_stream;
using namespace corio_test;

namespace {

TEST_CASE("unix_stream is an async_stream") {
    STATIC_REQUIRE(corio::async_stream<unix_stream>);
}

TEST_CASE("bytes sent through a path listener come back from an echo unchanged, then end of stream") {
    socket_dir dir;
    run_test([](socket_dir& dir) -> task<> {
        auto listener = listen_unix(dir.address("echo.sock"));
        auto [client, server] = co_await connect_unix_pair(listener);
        corio::spawn(echo_until_end(std::move(server)));
        std::string msg(100'000, '\0');
        fill_pattern(1, 0, std::as_writable_bytes(std::span(msg)));
        require_ok(co_await client.send_all(bytes_of(msg)), "send_all");
        REQUIRE(client.shutdown(shutdown_how::send));
        auto back = co_await recv_to_end(client);
        require_ok(back, "recv to end");
        CHECK(back->size() == msg.size());
        CHECK(*back == msg);
    }(dir));
}

// Sends `total` bytes of the pattern `seed` in uneven pieces, then half-closes.
task<corio::result<void>> send_pattern(unix_stream& s, std::uint64_t seed, std::size_t total) {
    std::vector<std::byte> chunk(70'001);
    for (std::size_t off = 0; off < total;) {
        const std::size_t n = std::min(chunk.size(), total - off);
        fill_pattern(seed, off, std::span(chunk).first(n));
        if (auto r = co_await s.send_all(std::span(chunk).first(n)); !r) {
            co_return r.error();
        }
        off += n;
    }
    co_return s.shutdown(shutdown_how::send);
}

// Receives to end of stream; returns how many bytes came, after checking each against the pattern.
task<corio::result<std::size_t>> check_pattern(unix_stream& s, std::uint64_t seed) {
    auto got = co_await recv_to_end(s);
    if (!got) {
        co_return got.error();
    }
    if (auto at = first_difference(seed, 0, std::as_bytes(std::span(*got)))) {
        FAIL("byte " << *at << " differs");
    }
    co_return got->size();
}

TEST_CASE("8 MiB each way at once over socketpair() arrive exactly, in order, once") {
    run_test([]() -> task<> {
        auto [a, b] = stream_socketpair();
        constexpr std::size_t total = 8u << 20;
        auto [sa, sb, ra, rb] = co_await corio::when_all(send_pattern(a, 11, total),
                                                         send_pattern(b, 22, total),
                                                         check_pattern(a, 22), check_pattern(b, 11));
        require_ok(sa, "a sends");
        require_ok(sb, "b sends");
        require_ok(ra, "a receives");
        require_ok(rb, "b receives");
        CHECK(*ra == total);
        CHECK(*rb == total);
    }());
}

TEST_CASE("after the client half-closes, the server reads to end of stream and still replies") {
    run_test([]() -> task<> {
        auto [client, server] = stream_socketpair();
        require_ok(co_await client.send_all(bytes_of("request")), "send");
        REQUIRE(client.shutdown(shutdown_how::send));
        auto request = co_await recv_to_end(server);
        require_ok(request, "server reads");
        CHECK(*request == "request");
        require_ok(co_await server.send_all(bytes_of("reply")), "server replies");
        REQUIRE(server.close());
        auto reply = co_await recv_to_end(client);
        require_ok(reply, "client reads");
        CHECK(*reply == "reply");
    }());
}

TEST_CASE("an abstract listener reports its name on both ends") {
    run_test([]() -> task<> {
        const unix_address name = unique_abstract();
        auto listener = listen_unix(name);
        auto local = listener.local_address();
        require_ok(local, "local_address");
        CHECK(*local == name);
        auto [client, server] = co_await connect_unix_pair(listener);
        auto remote = client.remote_address();
        require_ok(remote, "remote_address");
        CHECK(remote->is_abstract());
        CHECK(remote->name() == name.name());
        auto client_local = client.local_address();
        require_ok(client_local, "client local_address");
        CHECK(client_local->is_unnamed());
        require_ok(co_await client.send_all(bytes_of("x")), "send");
        auto got = co_await recv_exactly(server, 1);
        require_ok(got, "recv");
        CHECK(*got == "x");
    }());
}

TEST_CASE("a path listener's address is its path on both ends") {
    socket_dir dir;
    run_test([](socket_dir& dir) -> task<> {
        auto listener = listen_unix(dir.address("addr.sock"));
        auto [client, server] = co_await connect_unix_pair(listener);
        CHECK(client.remote_address()->name() == dir.path("addr.sock"));
        CHECK(server.local_address()->name() == dir.path("addr.sock"));
        CHECK(server.remote_address()->is_unnamed());
    }(dir));
}

TEST_CASE("peer credentials are this process's pid, uid and gid, through a listener and a pair") {
    socket_dir dir;
    run_test([](socket_dir& dir) -> task<> {
        auto listener = listen_unix(dir.address("cred.sock"));
        auto [client, server] = co_await connect_unix_pair(listener);
        auto [a, b] = stream_socketpair();
        for (unix_stream* s : {&client, &server, &a, &b}) {
            auto cred = s->peer_credentials();
            require_ok(cred, "peer_credentials");
            CHECK(cred->pid == ::getpid());
            CHECK(cred->uid == ::getuid());
            CHECK(cred->gid == ::getgid());
        }
        REQUIRE(a.close());
        CHECK(a.peer_credentials().error() == std::errc::bad_file_descriptor);
    }(dir));
}

TEST_CASE("connect: no such path is ENOENT, a socket nobody listens on is ECONNREFUSED") {
    socket_dir dir;
    run_test([](socket_dir& dir) -> task<> {
        auto missing = co_await unix_stream::connect(dir.address("missing.sock"));
        CHECK(missing.error() == std::errc::no_such_file_or_directory);
        {
            corio::net::unix_listen_options keep;
            keep.file.unlink_on_close = false;  // leaves a stale socket file behind
            auto gone = listen_unix(dir.address("stale.sock"), keep);
        }
        REQUIRE(is_socket_file(dir.path("stale.sock")));
        auto refused = co_await unix_stream::connect(dir.address("stale.sock"));
        CHECK(refused.error() == std::errc::connection_refused);
        auto unnamed = co_await unix_stream::connect(unix_address());
        CHECK(unnamed.error() == std::errc::invalid_argument);
        std::stop_source stop;
        stop.request_stop();
        auto listener = listen_unix(unique_abstract());
        auto cancelled = co_await unix_stream::connect(*listener.local_address(), {}, stop.get_token());
        CHECK(cancelled.error() == std::errc::operation_canceled);
    }(dir));
}

TEST_CASE("a cancelled recv consumes nothing: the bytes sent after it are all read next") {
    run_test([]() -> task<> {
        auto [client, server] = stream_socketpair();
        std::stop_source stop;
        std::byte buf[64];
        auto n = co_await server.recv(buf, stopped_once_parked(stop));  // parks, then is cancelled
        CHECK(n.error() == std::errc::operation_canceled);
        require_ok(co_await client.send_all(bytes_of("after")), "send_all");
        auto later = co_await recv_exactly(server, 5);
        require_ok(later, "recv");
        CHECK(*later == "after");
    }());
}

TEST_CASE("a cancelled send sends nothing: the reader gets exactly the bytes sent before it") {
    run_test([]() -> task<> {
        auto [a, b] = stream_socketpair();
        const std::vector<std::byte> chunk(64 * 1024, std::byte{'x'});
        std::size_t queued = 0;  // fill both socket buffers without corio
        for (ssize_t n; (n = ::send(a.handle().fd(), chunk.data(), chunk.size(), MSG_DONTWAIT)) > 0;) {
            queued += static_cast<std::size_t>(n);
        }
        std::stop_source stop;
        auto sent = co_await a.send(chunk, stopped_once_parked(stop));
        CHECK(sent.error() == std::errc::operation_canceled);
        REQUIRE(a.shutdown(shutdown_how::send));
        auto got = co_await recv_to_end(b);
        require_ok(got, "recv to end");
        CHECK(got->size() == queued);
    }());
}

TEST_CASE("sending to a closed peer is EPIPE, not SIGPIPE") {
    run_test([]() -> task<> {
        auto [a, b] = stream_socketpair();
        REQUIRE(b.close());
        auto sent = co_await a.send(bytes_of("nobody"));
        REQUIRE_FALSE(sent);
        CHECK(sent.error() == std::errc::broken_pipe);
    }());
}

}  // namespace
