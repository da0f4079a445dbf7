// SPDX-License-Identifier: MIT
// The programs of docs/udp.md, compiled and run as written there.
#include <corio/net/udp_socket.hpp>
#include <corio/stop_timer.hpp>

#include <catch2/catch.hpp>

#include "support/emulated_kqueue.hpp"
#include "support/net_loopback.hpp"
#include "support/udp_loopback.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <stop_token>
#include <string>

using corio::task;
using namespace corio_test;
using namespace std::chrono_literals;

namespace {

// ---- docs/udp.md: echo ----
// Sends every datagram back to its sender, until `stop`.
corio::task<corio::result<void>> echo(corio::net::udp_socket& s, std::stop_token stop) {
    for (;;) {
        auto d = co_await s.recv_from(stop);  // a pooled buffer, borrowed once a datagram is in
        if (!d) {
            co_return d.error();  // operation_canceled once `stop` is requested
        }
        if (d->info.truncated()) {
            continue;  // longer than a pooled buffer: never echo part of a datagram
        }
        if (auto sent = co_await s.send_to(d->data.bytes(), d->info.sender, stop); !sent) {
            co_return sent.error();
        }
    }
}

// ---- docs/udp.md: ask ----
// Sends `question` to `server` and returns the first answer; asks again after 200 ms
// without one, three times in all.
corio::task<corio::result<std::string>> ask(corio::net::endpoint server, std::string question) {
    auto s = corio::net::udp_socket::open(server.address().family());
    if (!s) {
        co_return s.error();
    }
    if (auto c = s->connect(server); !c) {
        co_return c.error();
    }
    std::array<std::byte, 1500> answer;
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (auto sent = co_await s->send(std::as_bytes(std::span(question))); !sent) {
            co_return sent.error();
        }
        std::stop_source expired;
        corio::stop_timer deadline(expired);
        deadline.arm(200ms);
        auto got = co_await s->recv(answer, expired.get_token());
        if (got) {
            co_return std::string(reinterpret_cast<const char*>(answer.data()), got->size);
        }
        if (!expired.stop_requested()) {
            co_return got.error();  // ECONNREFUSED: nothing listens there
        }
    }
    co_return std::errc::timed_out;
}
// ---- end of docs/udp.md ----

TEST_CASE("docs/udp.md: ask gets the echo server's answer") {
    run_test([]() -> task<> {
        corio::net::udp_socket server = bind_udp();
        std::stop_source stop;
        outcome<void> served;
        corio::spawn([](corio::net::udp_socket& s, std::stop_token t, outcome<void>& out) -> task<> {
            out.value = co_await echo(s, std::move(t));
            out.done.set();
        }(server, stop.get_token(), served));
        auto answer = co_await ask(udp_endpoint(server), "what is the time?");
        require_ok(answer, "ask");
        CHECK(*answer == "what is the time?");
        stop.request_stop();
        (void)co_await served.done.wait();
        CHECK(served.value->error() == std::errc::operation_canceled);
    }());
}

TEST_CASE("docs/udp.md: ask gives up with timed_out when nobody answers") {
    run_test([]() -> task<> {
        corio::net::udp_socket silent = bind_udp();  // receives, never answers
        auto answer = co_await ask(udp_endpoint(silent), "hello?");
        CHECK(answer.error() == std::errc::timed_out);
        std::array<std::byte, 16> buf{};
        for (int i = 0; i < 3; ++i) {  // it asked three times
            auto got = co_await silent.recv_from(buf);
            require_ok(got, "recv_from");
            CHECK(text_of(std::span(buf).first(got->size)) == "hello?");
        }
    }());
}

TEST_CASE("docs/udp.md: ask reports ECONNREFUSED when nothing listens") {
    if (on_emulated_kqueue()) {
        WARN("skipped on libkqueue: it reads SO_ERROR itself when it reports the event "
             "(src/linux/read.c), which clears the ECONNREFUSED this test expects");
        return;
    }
    run_test([]() -> task<> {
        corio::net::endpoint closed;
        {
            corio::net::udp_socket gone = bind_udp();
            closed = udp_endpoint(gone);
        }
        auto answer = co_await ask(closed, "anyone?");
        CHECK(answer.error() == std::errc::connection_refused);
    }());
}

}  // namespace
