// SPDX-License-Identifier: MIT
// io_handle::release() after the handle has been used: whatever the kernel had queued for the
// descriptor (bytes, connections in the backlog) is still there for its next owner.
#include <corio/io_handle.hpp>

#include <catch2/catch.hpp>

#include <corio/net/tcp_listener.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/socket_pair.hpp"

#include <string>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

namespace {

using corio::task;
using corio_test::as_string;

// Turns of the loop during which a backend that read ahead (io_uring's multishot operations did)
// would take what arrived: each yield lets the loop poll its kernel queue once.
constexpr int loop_turns = 4;

task<> let_loop_turn() {
    for (int i = 0; i < loop_turns; ++i) {
        co_await corio::yield();
    }
}

TEST_CASE("release() after receives leaves bytes the peer sent since in the socket") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::net::tcp_stream s{corio::io_handle(pair.take(0))};
    const int released = rt.block_on([](corio::net::tcp_stream& s, int peer) -> task<int> {
        REQUIRE(corio_test::send_text(peer, "first") == 5);
        auto pooled = co_await s.recv();  // the pooled receive (once a multishot on io_uring)
        REQUIRE(pooled);
        CHECK(as_string(pooled->bytes()) == "first");
        std::byte buf[8];
        REQUIRE(corio_test::send_text(peer, "second") == 6);
        auto plain = co_await s.handle().recv(buf);
        REQUIRE(plain);
        CHECK(as_string({buf, *plain}) == "second");
        // 22 bytes nobody asks corio for: the descriptor's next owner reads them.
        REQUIRE(corio_test::send_text(peer, "for the next owner: 22") == 22);
        co_await let_loop_turn();
        co_return s.handle().release();
    }(s, pair.fd(1)));
    REQUIRE(released >= 0);
    CHECK(corio_test::recv_text(released) == "for the next owner: 22");
    ::close(released);
}

TEST_CASE("release() of a listener that has accepted leaves waiting connections in its backlog") {
    corio::runtime rt;
    auto listener = corio::net::tcp_listener::bind(*corio::net::endpoint::parse("127.0.0.1:0"));
    REQUIRE(listener);
    const auto at = *listener->local_endpoint();
    std::vector<corio::net::tcp_stream> clients;
    const int released = rt.block_on([](corio::net::tcp_listener& l, corio::net::endpoint at,
                                        std::vector<corio::net::tcp_stream>& clients) -> task<int> {
        auto first_client = co_await corio::net::tcp_stream::connect(at);
        REQUIRE(first_client);
        auto first = co_await l.accept();  // once armed a multishot accept on io_uring
        REQUIRE(first);
        for (int i = 0; i < 2; ++i) {
            auto c = co_await corio::net::tcp_stream::connect(at);
            REQUIRE(c);
            clients.push_back(std::move(*c));
        }
        co_await let_loop_turn();
        co_return l.handle().release();
    }(*listener, at, clients));
    REQUIRE(released >= 0);
    // Both connections are still in the backlog, alive: each accepts, and its client's bytes
    // arrive on it.
    for (auto& c : clients) {
        const int fd = ::accept4(released, nullptr, nullptr, SOCK_CLOEXEC);
        INFO("accept4 errno " << errno);
        REQUIRE(fd >= 0);
        REQUIRE(::send(c.handle().fd(), "hi", 2, MSG_NOSIGNAL) == 2);
        char got[2]{};
        CHECK(::recv(fd, got, sizeof got, MSG_WAITALL) == 2);
        CHECK(std::string(got, 2) == "hi");
        ::close(fd);
    }
    ::close(released);
}

}  // namespace
