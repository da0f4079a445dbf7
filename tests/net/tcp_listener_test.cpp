// SPDX-License-Identifier: MIT
// Tests for corio/net/tcp_listener.hpp over loopback: bind, accept, running out of descriptors,
// and accept ended by a stop token or by close.
#include <corio/net/tcp_listener.hpp>

#include <corio/error.hpp>
#include <corio/event.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/runtime.hpp>
#include <corio/timer.hpp>

#include <catch2/catch.hpp>

#include "support/descriptor_limit.hpp"
#include "support/net_loopback.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

using corio::task;
using corio::net::endpoint;
using corio::net::ip_address;
using corio::net::tcp_listener;
using corio::net::tcp_stream;
using namespace corio_test;

namespace {

task<> accept_into(tcp_listener& listener, outcome<tcp_stream>& out, std::stop_token token = {}) {
    out.value = co_await listener.accept(std::move(token));
    out.done.set();
}

TEST_CASE("accept returns a stream connected to the client that connected") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        auto client = co_await tcp_stream::connect(endpoint_of(listener));
        require_ok(client, "connect");
        auto server = co_await listener.accept();
        require_ok(server, "accept");
        CHECK(*server->remote_endpoint() == *client->local_endpoint());
        require_ok(co_await client->send_all(bytes_of("ping")), "send_all");
        auto got = co_await recv_exactly(*server, 4);
        require_ok(got, "recv");
        CHECK(*got == "ping");
    }());
}

TEST_CASE("a listener bound to port 0 reports the port the kernel chose") {
    auto listener = tcp_listener::bind({ip_address::v4_loopback(), 0});
    REQUIRE(listener);
    auto ep = listener->local_endpoint();
    REQUIRE(ep);
    CHECK(ep->address() == ip_address::v4_loopback());
    CHECK(ep->port() != 0);
    REQUIRE(listener->close());
    CHECK_FALSE(listener->is_open());
    CHECK(listener->local_endpoint().error() == std::errc::bad_file_descriptor);
}

TEST_CASE("bind to a port another listener holds fails with EADDRINUSE") {
    auto first = tcp_listener::bind({ip_address::v4_loopback(), 0});
    REQUIRE(first);
    auto second = tcp_listener::bind(*first->local_endpoint());
    REQUIRE_FALSE(second);
    CHECK(second.error() == std::errc::address_in_use);
}

TEST_CASE("bind with a negative backlog fails with EINVAL") {
    corio::net::listen_options options;
    options.backlog = -1;
    auto listener = tcp_listener::bind({ip_address::v4_loopback(), 0}, options);
    REQUIRE_FALSE(listener);
    CHECK(listener.error() == std::errc::invalid_argument);
}

TEST_CASE(
    "an accept cancelled by its stop token fails with operation_canceled, and the "
    "listener still accepts") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        std::stop_source stop;
        corio::spawn([](std::stop_source& s) -> task<> {
            s.request_stop();
            co_return;
        }(stop));
        auto s = co_await listener.accept(stop.get_token());  // parks: nobody connects
        CHECK(s.error() == std::errc::operation_canceled);
        auto pair = co_await connect_pair(listener);
        CHECK(pair.server.is_open());
    }());
}

// Connections completed by the kernel that nobody has accepted yet (a listening socket's
// TCP_INFO reports its accept queue's length as tcpi_unacked).
std::size_t backlog_of(tcp_listener& listener) {
    tcp_info info{};
    socklen_t len = sizeof info;
    REQUIRE(::getsockopt(listener.handle().fd(), IPPROTO_TCP, TCP_INFO, &info, &len) == 0);
    return info.tcpi_unacked;
}

TEST_CASE("after an accept is cancelled, connections stay in the listener's backlog until the "
          "next accept takes them: nothing accepts them meanwhile") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        {
            auto first = co_await connect_pair(listener);  // a real accept first (io_uring: armed)
            REQUIRE(first.server.is_open());
        }
        std::stop_source stop;
        corio::spawn([](std::stop_source& s) -> task<> {
            s.request_stop();
            co_return;
        }(stop));
        auto cancelled = co_await listener.accept(stop.get_token());
        CHECK(cancelled.error() == std::errc::operation_canceled);
        std::vector<tcp_stream> clients;
        for (int i = 0; i < 3; ++i) {
            auto c = co_await tcp_stream::connect(endpoint_of(listener));
            REQUIRE(c);
            clients.push_back(std::move(*c));
        }
        // Give a stray accept every chance to run: turns of the loop with the kernel entered.
        for (int i = 0; i < 5; ++i) {
            (void)co_await corio::sleep_for(1ms);
        }
        CHECK(backlog_of(listener) == 3);
        for (auto& c : clients) {
            auto s = co_await listener.accept();
            REQUIRE(s);
            CHECK(*s->remote_endpoint() == *c.local_endpoint());
        }
        CHECK(backlog_of(listener) == 0);
    }());
}

TEST_CASE(
    "an accept with an already stopped token and nothing pending fails with "
    "operation_canceled") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        std::stop_source stop;
        stop.request_stop();
        auto s = co_await listener.accept(stop.get_token());
        CHECK(s.error() == std::errc::operation_canceled);
    }());
}

TEST_CASE("closing the listener from another task resumes a parked accept with errc::closed") {
    run_test([]() -> task<> {
        auto listener = bind_loopback();
        outcome<tcp_stream> out;
        corio::spawn(accept_into(listener, out));
        co_await corio::yield();  // the accept parks: nobody connects
        REQUIRE(listener.close());
        (void)co_await out.done.wait();
        CHECK(out.value->error() == corio::errc::closed);
        auto again = co_await listener.accept();
        CHECK(again.error() == corio::errc::closed);
    }());
}

// ---- out of descriptors ----

int highest_open_descriptor() {
    int highest = -1;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        highest = std::max(highest, std::stoi(entry.path().filename().string()));
    }
    return highest;
}

// Descriptors that use up what RLIMIT_NOFILE allows; closed on destruction.
class descriptor_fill {
public:
    descriptor_fill() {
        for (;;) {
            const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                REQUIRE(errno == EMFILE);
                return;
            }
            fds_.push_back(fd);
        }
    }
    descriptor_fill(const descriptor_fill&) = delete;
    descriptor_fill& operator=(const descriptor_fill&) = delete;
    ~descriptor_fill() {
        for (int fd : fds_) {
            ::close(fd);
        }
    }
    /// Closes `n` of them, making room for `n` new descriptors.
    void release(std::size_t n) {
        for (; n > 0 && !fds_.empty(); --n) {
            ::close(fds_.back());
            fds_.pop_back();
        }
    }

private:
    std::vector<int> fds_;
};

TEST_CASE(
    "out of descriptors, accept waits while existing connections are served, and "
    "accepts the pending connection once descriptors are freed") {
    if (corio_test::vptr_checks_need_descriptors()) {
        WARN("skipped: UBSan's vptr check needs free descriptors (support/descriptor_limit.hpp)");
        return;
    }
    run_test([]() -> task<> {
        // The limit comes first, as a server's limit is fixed before it starts.
        descriptor_cap cap(static_cast<rlim_t>(highest_open_descriptor()) + 12);
        auto listener = bind_loopback();
        auto [client, server] = co_await connect_pair(listener);
        corio::spawn(echo_until_end(std::move(server)));

        descriptor_fill fill;
        fill.release(1);  // room for the client end of one more connection, none for its server
        auto late = co_await tcp_stream::connect(endpoint_of(listener));
        require_ok(late, "connect");  // the kernel completes it; it waits in the backlog
        errno = 0;
        CHECK(::open("/dev/null", O_RDONLY | O_CLOEXEC) < 0);
        CHECK(errno == EMFILE);

        outcome<tcp_stream> out;
        corio::spawn(accept_into(listener, out));  // gets EMFILE, then backs off and retries
        require_ok(co_await client.send_all(bytes_of("still served")), "send_all");
        auto echoed = co_await recv_exactly(client, 12);
        require_ok(echoed, "recv");
        CHECK(*echoed == "still served");
        CHECK_FALSE(out.done.is_set());

        fill.release(2);
        (void)co_await out.done.wait();
        require_ok(*out.value, "accept");
        tcp_stream& accepted_end = **out.value;
        require_ok(co_await late->send_all(bytes_of("late")), "send_all");
        auto got = co_await recv_exactly(accepted_end, 4);
        require_ok(got, "recv");
        CHECK(*got == "late");
        CHECK(*accepted_end.remote_endpoint() == *late->local_endpoint());
    }());
}

TEST_CASE("a listener on IPv6 loopback accepts IPv6 clients") {
    auto listener = tcp_listener::bind({ip_address::v6_loopback(), 0});
    if (!listener) {
        WARN("skipped: cannot bind [::1]: " << listener.error().message());
        return;
    }
    run_test([&]() -> task<> {
        auto pair = co_await connect_pair(*listener);
        auto remote = pair.server.remote_endpoint();
        REQUIRE(remote);
        CHECK(remote->address() == ip_address::v6_loopback());
        CHECK(endpoint_of(*listener).address() == ip_address::v6_loopback());
    }());
}

}  // namespace
