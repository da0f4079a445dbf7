// SPDX-License-Identifier: MIT
// Tests for tcp_stream::connect to a host name or a list of addresses (Happy Eyeballs): the
// 250 ms stagger on the manual clock, IPv6 first, losers closed, errors, timeout, cancellation.
#include <corio/net/tcp_stream.hpp>

#include <corio/cancel.hpp>
#include <corio/clock.hpp>
#include <corio/net/resolve.hpp>
#include <corio/runtime.hpp>
#include <corio/timer.hpp>

#include <catch2/catch.hpp>

#include "support/clock_steps.hpp"
#include "support/emulated_kqueue.hpp"
#include "support/http_fixture.hpp"
#include "support/localhost_listener.hpp"
#include "support/net_loopback.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using corio::task;
using corio::net::endpoint;
using corio::net::ip_address;
using corio::net::tcp_stream;
using namespace corio_test;
using namespace std::chrono_literals;

namespace {

std::ptrdiff_t open_descriptors() {
    return std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                         std::filesystem::directory_iterator());
}

// A listener whose accept queue is full: the kernel drops further SYNs (Linux tcp_conn_request,
// "accept queue full"), so a connect to it never completes. Plain blocking sockets, set up
// before the test's loop runs. Which connect is the first to hang depends on when the kernel
// moves the earlier ones to the queue, so it connects until one hangs (a wall-clock bound of
// 200 ms per try detects the hang; nothing in the test waits on it afterwards).
class black_hole {
public:
    explicit black_hole(ip_address address) {
        listener_ = ::socket(address.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_storage ss{};
        const auto len = endpoint(address, 0).to_sockaddr(&ss, sizeof ss);
        socklen_t got = sizeof ss;
        if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&ss), static_cast<socklen_t>(len)) != 0 ||
            ::listen(listener_, 0) != 0 ||
            ::getsockname(listener_, reinterpret_cast<sockaddr*>(&ss), &got) != 0) {
            return;
        }
        ep_ = *endpoint::from_sockaddr(&ss, got);
        for (int i = 0; i < 16; ++i) {
            const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            (void)::connect(fd, reinterpret_cast<sockaddr*>(&ss), got);
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, 200) == 0) {
                ::close(fd);  // it hung: the queue is full
                ready_ = true;
                return;
            }
            fillers_.push_back(fd);
        }
    }
    ~black_hole() {
        for (int fd : fillers_) {
            ::close(fd);
        }
        if (listener_ >= 0) {
            ::close(listener_);
        }
    }
    black_hole(const black_hole&) = delete;
    black_hole& operator=(const black_hole&) = delete;

    bool ready() const noexcept { return ready_; }
    endpoint where() const noexcept { return ep_; }

private:
    int listener_ = -1;
    std::vector<int> fillers_;
    endpoint ep_;
    bool ready_ = false;
};

// A loopback port nothing listens on: bound, then closed.
endpoint closed_port() {
    auto listener = bind_loopback();
    const endpoint ep = endpoint_of(listener);
    (void)listener.close();
    return ep;
}

// Where a connect by Happy Eyeballs, run as its own task, has got to.
struct race_outcome {
    std::optional<corio::result<tcp_stream>> value;
    corio::event done;
};

task<> connect_into(std::vector<endpoint> peers, corio::clock_type::duration timeout,
                    std::stop_token token, race_outcome& out) {
    out.value = co_await tcp_stream::connect(std::move(peers), timeout, std::move(token));
    out.done.set();
}

// The stagger, on the manual clock: the first address never answers, so the second starts
// 250 ms later and wins; the first attempt is cancelled and its socket closed.
void check_stagger(endpoint good_address, std::vector<endpoint> peers) {
    corio::manual_clock clock;
    run_on_clock(clock, [](corio::manual_clock& clock, endpoint good_address,
                           std::vector<endpoint> peers) -> task<> {
        auto good = bind_loopback(good_address.address());
        const endpoint good_ep = endpoint_of(good);
        for (endpoint& ep : peers) {
            if (ep == good_address) {
                ep = good_ep;
            }
        }
        const auto before = open_descriptors();
        const auto start = clock.now();
        race_outcome out;
        corio::spawn(connect_into(peers, {}, {}, out));
        co_await advance_in_steps(clock, 249ms, 1);
        CHECK_FALSE(out.value.has_value());  // the first attempt hangs; the second has not begun
        co_await advance_in_steps(clock, 1ms, 1);
        (void)co_await out.done.wait();
        REQUIRE(out.value.has_value());
        require_ok(*out.value, "connect");
        CHECK(clock.now() - start == tcp_stream::attempt_delay);
        auto remote = (*out.value)->remote_endpoint();
        require_ok(remote, "remote_endpoint");
        CHECK(*remote == good_ep);
        // The winner's socket is the only descriptor the connect left open.
        CHECK(open_descriptors() == before + 1);
        out.value.reset();
        CHECK(open_descriptors() == before);
    }(clock, good_address, std::move(peers)));
}

TEST_CASE("connect by Happy Eyeballs: an address that never answers is passed over after "
          "250 ms and its attempt closed") {
    black_hole hole(ip_address::v4_loopback());
    REQUIRE(hole.ready());
    const endpoint good(ip_address::v4_loopback(), 0);
    check_stagger(good, {hole.where(), good});
}

TEST_CASE("connect by Happy Eyeballs: IPv6 is tried first, IPv4 250 ms later") {
    black_hole hole(ip_address::v6_loopback());
    if (!hole.ready()) {
        WARN("skipped: this machine cannot listen on [::1] (no IPv6 loopback)");
        return;
    }
    const endpoint good(ip_address::v4_loopback(), 0);
    // The IPv4 address comes first in the list, and is still tried second.
    check_stagger(good, {good, hole.where()});
}

TEST_CASE("connect to a host name: localhost reaches a listener on the loopback") {
    run_test([]() -> task<> {
        auto listener = bind_localhost();
        const std::uint16_t port = endpoint_of(listener).port();
        auto s = co_await tcp_stream::connect("localhost", port, 10s);
        require_ok(s, "connect localhost");
        auto remote = s->remote_endpoint();
        require_ok(remote, "remote_endpoint");
        CHECK(remote->address().is_loopback());
        CHECK(remote->port() == port);
        auto numeric = co_await tcp_stream::connect("127.0.0.1", port);
        require_ok(numeric, "connect 127.0.0.1");
    }());
}

TEST_CASE("connect by Happy Eyeballs: when every address fails, the last failure is returned") {
    if (corio_test::on_emulated_kqueue()) {
        WARN("skipped on libkqueue: it reads SO_ERROR itself when it reports the event "
             "(src/linux/read.c, write.c), so a refused connect looks connected");
        return;
    }
    run_test([]() -> task<> {
        const endpoint refused = closed_port();
        // TCP to a multicast address fails at once with ENETUNREACH.
        const endpoint unreachable(ip_address::from_v4_bytes({224, 0, 0, 1}), 9);
        // (Named lists: g++ 12 rejects an initializer list's array inside a co_await.)
        std::vector<endpoint> unreachable_first{unreachable, refused};
        std::vector<endpoint> refused_first{refused, unreachable};
        auto last_refused = co_await tcp_stream::connect(std::move(unreachable_first));
        CHECK(last_refused.error() == std::errc::connection_refused);
        auto last_unreachable = co_await tcp_stream::connect(std::move(refused_first));
        CHECK(last_unreachable.error() == std::errc::network_unreachable);
        std::vector<endpoint> empty;
        auto none = co_await tcp_stream::connect(std::move(empty));
        CHECK(none.error() == std::errc::invalid_argument);
    }());
}

TEST_CASE("connect by Happy Eyeballs: the timeout covers every attempt, the caller's token "
          "cancels them; no socket is left open") {
    black_hole hole(ip_address::v4_loopback());
    REQUIRE(hole.ready());
    corio::manual_clock clock;
    run_on_clock(clock, [](corio::manual_clock& clock, endpoint hole) -> task<> {
        const std::vector peers{hole, hole};
        const auto before = open_descriptors();
        const auto start = clock.now();
        race_outcome timed;
        corio::spawn(connect_into(peers, 1s, {}, timed));
        co_await advance_in_steps(clock, 100ms, 10);
        (void)co_await timed.done.wait();
        CHECK(timed.value->error() == std::errc::timed_out);
        CHECK(clock.now() - start == 1s);
        CHECK(open_descriptors() == before);

        std::stop_source stop;
        race_outcome stopped;
        corio::spawn(connect_into(peers, {}, stop.get_token(), stopped));
        co_await advance_in_steps(clock, 300ms, 1);  // both attempts are under way
        stop.request_stop();
        (void)co_await stopped.done.wait();
        CHECK(stopped.value->error() == std::errc::operation_canceled);
        CHECK(open_descriptors() == before);
    }(clock, hole.where()));
}

TEST_CASE("connect to a host name that does not resolve fails with host_not_found") {
    run_test([]() -> task<> {
        const std::string name = std::string(64, 'x') + ".invalid";  // see resolve_test.cpp
        auto s = co_await tcp_stream::connect(name, 80, 10s);
        CHECK(s.error() == corio::net::resolve_errc::host_not_found);
    }());
}

}  // namespace
