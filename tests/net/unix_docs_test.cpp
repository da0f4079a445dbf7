// SPDX-License-Identifier: MIT
// The programs of docs/unix.md, compiled and run as written there.
#include <corio/net/unix_datagram.hpp>
#include <corio/net/unix_listener.hpp>
#include <corio/net/unix_stream.hpp>

#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include "support/net_loopback.hpp"
#include "support/unix_fixture.hpp"

#include <array>
#include <cstddef>
#include <span>
#include <string>

#include <fcntl.h>
#include <unistd.h>

using corio::task;
using namespace corio_test;

namespace {

// ---- docs/unix.md: a control socket ----
// Answers one request per connection on `path`, from processes of this user only, until
// `stop`. The socket file of a crashed earlier run is replaced; this one is removed on return.
corio::task<corio::result<void>> control_socket(std::string path, std::stop_token stop) {
    auto at = corio::net::unix_address::from_path(path);  // filename_too_long past 107 bytes
    if (!at) {
        co_return at.error();
    }
    corio::net::unix_listen_options options;
    options.file.remove_stale = true;
    auto listener = corio::net::unix_listener::bind(*at, options);
    if (!listener) {
        co_return listener.error();  // EADDRINUSE: a live server, or a file that is no socket
    }
    for (;;) {
        auto client = co_await listener->accept(stop);
        if (!client) {
            co_return client.error();  // operation_canceled once `stop` is requested
        }
        auto who = client->peer_credentials();
        if (!who || who->uid != ::getuid()) {
            continue;  // closes the connection unanswered
        }
        std::array<std::byte, 256> request{};
        auto n = co_await client->recv(request);
        if (n && *n > 0) {
            const std::string reply = "pid " + std::to_string(who->pid) + " asked " +
                                      std::string(reinterpret_cast<const char*>(request.data()), *n);
            (void)co_await client->send_all(std::as_bytes(std::span(reply)));
        }
    }
}

// ---- docs/unix.md: passing a descriptor ----
// Sends an open file to the process at the other end of `s`, with a one-byte header.
corio::task<corio::result<void>> hand_over(corio::net::unix_stream& s, int file) {
    const std::byte tag[] = {std::byte{'F'}};
    const int fds[] = {file};
    auto sent = co_await s.send_fds(tag, fds);  // the caller still owns (and closes) `file`
    if (!sent) {
        co_return sent.error();
    }
    co_return corio::result<void>{};
}

// Receives it: the descriptor is close-on-exec, and owned by the result until released.
corio::task<corio::result<corio::net::owned_fd>> take_over(corio::net::unix_stream& s) {
    std::byte tag[1];
    auto got = co_await s.recv_fds(tag, 1);  // errc::descriptors_truncated if more came
    if (!got) {
        co_return got.error();
    }
    if (got->size == 0 || got->fds.empty()) {
        co_return std::errc::protocol_error;  // end of stream, or bytes without a descriptor
    }
    co_return std::move(got->fds.front());
}
// ---- end of docs/unix.md ----

TEST_CASE("docs/unix.md: the control socket answers this user's request, then stops") {
    socket_dir dir;
    run_test([](socket_dir& dir) -> task<> {
        std::stop_source stop;
        corio::event done;
        corio::result<void> served;
        corio::spawn([](std::string path, std::stop_token stop, corio::result<void>& out,
                        corio::event& done) -> task<> {
            out = co_await control_socket(std::move(path), std::move(stop));
            done.set();
        }(dir.path("ctl.sock"), stop.get_token(), served, done));
        co_await corio::yield();  // let it bind
        auto s = co_await corio::net::unix_stream::connect(dir.address("ctl.sock"));
        require_ok(s, "connect");
        require_ok(co_await s->send_all(bytes_of("status")), "send");
        auto reply = co_await recv_to_end(*s);
        require_ok(reply, "recv");
        CHECK(*reply == "pid " + std::to_string(::getpid()) + " asked status");
        stop.request_stop();
        (void)co_await done.wait();
        CHECK(served.error() == std::errc::operation_canceled);
        CHECK_FALSE(is_socket_file(dir.path("ctl.sock")));
    }(dir));
}

TEST_CASE("docs/unix.md: a file handed over is readable on the other side") {
    run_test([]() -> task<> {
        auto [a, b] = stream_socketpair();
        int p[2];
        REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
        REQUIRE(::write(p[1], "data", 4) == 4);
        require_ok(co_await hand_over(a, p[0]), "hand_over");
        ::close(p[0]);
        ::close(p[1]);
        auto file = co_await take_over(b);
        require_ok(file, "take_over");
        char buf[8] = {};
        CHECK(::read(file->get(), buf, sizeof buf) == 4);
        CHECK(std::string(buf, 4) == "data");
    }());
}

}  // namespace
