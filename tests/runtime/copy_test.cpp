// SPDX-License-Identifier: MIT
// Tests for corio/copy.hpp: copy and copy_bidirectional between loopback TCP streams (and a Unix
// socket pair), as a proxy uses them: client <-> front ==copy== back <-> server.
#include <corio/copy.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/clock.hpp>
#include <corio/error.hpp>
#include <corio/io_handle.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/runtime.hpp>
#include <corio/when_all.hpp>

#include "support/emulated_kqueue.hpp"
#include "support/net_loopback.hpp"
#include "support/socket_pair.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <sys/socket.h>

namespace {

using namespace std::chrono_literals;
using corio::copy_totals;
using corio::task;
using corio::net::tcp_stream;
using corio_test::bytes_of;

// 2 MiB each way: 128 of the copy's 16 KiB buffers, sent in chunks that straddle them.
constexpr std::uint64_t long_stream = 2 * 1024 * 1024;

// The four ends of a proxied connection: the copy runs between front and back.
struct proxied {
    tcp_stream client, front, back, server;
};

task<proxied> make_proxied(corio::net::tcp_listener& listener) {
    auto one = co_await corio_test::connect_pair(listener);
    auto two = co_await corio_test::connect_pair(listener);
    co_return proxied{std::move(one.client), std::move(one.server), std::move(two.client),
                      std::move(two.server)};
}

// Sends `total` bytes of the pattern `seed`, then shuts down its sending side.
task<corio::result<std::uint64_t>> send_pattern(tcp_stream& s, std::uint64_t seed,
                                                std::uint64_t total) {
    std::vector<std::byte> chunk(37 * 1024);
    for (std::uint64_t off = 0; off < total;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), total - off));
        const std::span<std::byte> part = std::span(chunk).first(n);
        corio_test::fill_pattern(seed, off, part);
        if (auto sent = co_await s.send_all(part); !sent) {
            co_return sent.error();
        }
        off += n;
    }
    if (auto shut = s.shutdown(corio::shutdown_how::send); !shut) {
        co_return shut.error();
    }
    co_return total;
}

struct received {
    std::uint64_t bytes = 0;
    std::optional<std::uint64_t> first_wrong;  // offset of the first byte not the pattern's
    std::error_code error;
};

// Receives to end of stream, checking every byte against the pattern `seed`.
task<received> check_pattern(tcp_stream& s, std::uint64_t seed) {
    received got;
    std::vector<std::byte> buf(24 * 1024);
    for (;;) {
        auto n = co_await s.recv(buf);
        if (!n || *n == 0) {
            got.error = n ? std::error_code{} : n.error();
            co_return got;
        }
        auto wrong = corio_test::first_difference(seed, got.bytes, std::span(buf).first(*n));
        if (wrong && !got.first_wrong) {
            got.first_wrong = got.bytes + *wrong;
        }
        got.bytes += *n;
    }
}

void require_intact(const received& r, std::uint64_t want) {
    INFO("error: " << r.error.message());
    CHECK_FALSE(r.error);
    CHECK(r.bytes == want);
    CHECK_FALSE(r.first_wrong.has_value());
}

// Closes front and back when the copy returns, so a test whose copy ended early fails at its
// next receive (end of stream) instead of waiting forever.
task<corio::result<copy_totals>> copy_then_close(proxied& p, corio::copy_options options = {},
                                                 std::stop_token token = {}) {
    auto r = co_await corio::copy_bidirectional(p.front, p.back, options, std::move(token));
    (void)p.front.close();
    (void)p.back.close();
    co_return r;
}

// Sends `text` whole; the test fails if it cannot.
task<> send_text(tcp_stream& s, std::string_view text) {
    auto sent = co_await s.send_all(bytes_of(text));
    corio_test::require_ok(sent, "send");
}

// Receives exactly `n` bytes, or what came before the end of stream or an error.
task<std::string> recv_string(tcp_stream& s, std::size_t n) {
    auto r = co_await corio_test::recv_exactly(s, n);
    corio_test::require_ok(r, "recv");
    co_return *r;
}

// Sends `text` from `from`; checks that `to` receives exactly it.
task<> pass(tcp_stream& from, tcp_stream& to, std::string_view text) {
    co_await send_text(from, text);
    const std::string got = co_await recv_string(to, text.size());
    CHECK(got == text);
}

// Receives to the end of stream; the test fails on an error.
task<std::string> recv_rest(tcp_stream& s) {
    auto r = co_await corio_test::recv_to_end(s);
    corio_test::require_ok(r, "recv");
    co_return *r;
}

TEST_CASE("copy moves every byte of a long stream in order, then passes the end of stream on",
          "[copy_test]") {
    corio_test::run_test([]() -> task<> {
        auto listener = corio_test::bind_loopback();
        auto p = co_await make_proxied(listener);
        auto [moved, sent, got] = co_await corio::when_all(
            corio::copy(p.front, p.back), send_pattern(p.client, 7, long_stream),
            check_pattern(p.server, 7));
        corio_test::require_ok(moved, "copy");
        CHECK(*moved == long_stream);
        REQUIRE(sent);
        CHECK(*sent == long_stream);
        require_intact(got, long_stream);  // bytes == long_stream and no error: the end came
    }());
}

TEST_CASE("copy_bidirectional moves long streams both ways at once, every byte exact",
          "[copy_test]") {
    corio_test::run_test([]() -> task<> {
        auto listener = corio_test::bind_loopback();
        auto p = co_await make_proxied(listener);
        corio::copy_totals progress;
        corio::copy_options options;
        options.progress = &progress;
        auto [moved, up, down, at_server, at_client] = co_await corio::when_all(
            corio::copy_bidirectional(p.front, p.back, options),
            send_pattern(p.client, 1, long_stream), send_pattern(p.server, 2, long_stream + 3),
            check_pattern(p.server, 1), check_pattern(p.client, 2));
        corio_test::require_ok(moved, "copy_bidirectional");
        CHECK(moved->a_to_b == long_stream);
        CHECK(moved->b_to_a == long_stream + 3);
        CHECK(progress.a_to_b == long_stream);
        CHECK(progress.b_to_a == long_stream + 3);
        CHECK(up);
        CHECK(down);
        require_intact(at_server, long_stream);
        require_intact(at_client, long_stream + 3);
    }());
}

TEST_CASE("copy_bidirectional passes a half-close on while the other direction still flows",
          "[copy_test]") {
    corio_test::run_test([]() -> task<> {
        auto listener = corio_test::bind_loopback();
        auto p = co_await make_proxied(listener);
        auto script = [](proxied& p) -> task<> {
            co_await send_text(p.client, "hello");
            REQUIRE(p.client.shutdown(corio::shutdown_how::send));
            const std::string up = co_await recv_rest(p.server);  // the end of stream came
            CHECK(up == "hello");
            // The server answers after the client's half-close: it still reaches the client.
            co_await pass(p.server, p.client, "world!");
            REQUIRE(p.server.shutdown(corio::shutdown_how::send));
            const std::string rest = co_await recv_rest(p.client);
            CHECK(rest.empty());
        };
        auto [moved, done] = co_await corio::when_all(copy_then_close(p), script(p));
        (void)done;
        corio_test::require_ok(moved, "copy_bidirectional");
        CHECK(moved->a_to_b == 5);
        CHECK(moved->b_to_a == 6);
    }());
}

TEST_CASE("an error in one direction ends copy_bidirectional: the other is cancelled and awaited",
          "[copy_test]") {
    corio_test::run_test([]() -> task<> {
        auto listener = corio_test::bind_loopback();
        auto p = co_await make_proxied(listener);
        corio::copy_totals progress;
        corio::copy_options options;
        options.progress = &progress;
        auto script = [](proxied& p) -> task<> {
            co_await pass(p.client, p.server, "abc");
            // The copy from back to front waits on back's recv, which resumes with errc::closed;
            // the copy from front to back waits on front's recv, where nothing comes.
            REQUIRE(p.back.close());
        };
        auto [moved, done] = co_await corio::when_all(
            corio::copy_bidirectional(p.front, p.back, options), script(p));
        (void)done;
        REQUIRE_FALSE(moved);
        CHECK(moved.error() == corio::errc::closed);
        CHECK(progress.a_to_b == 3);
        CHECK(progress.b_to_a == 0);
        // Nothing is left pending on front (a second recv would throw usage_error), and its
        // sending side was not shut down: it still carries bytes both ways.
        co_await pass(p.front, p.client, "after");
        co_await pass(p.client, p.front, "up");
    }());
}

TEST_CASE("a reset ends copy_bidirectional with ECONNRESET", "[copy_test]") {
    if (corio_test::on_emulated_kqueue()) {
        WARN("skipped on libkqueue: it reads SO_ERROR itself when it reports the event "
             "(src/linux/read.c), which clears the reset, so recv reports an end of stream "
             "(which the copy passes on as a half-close) instead of ECONNRESET");
        return;
    }
    corio_test::run_test([]() -> task<> {
        auto listener = corio_test::bind_loopback();
        auto p = co_await make_proxied(listener);
        auto script = [](proxied& p) -> task<> {
            co_await pass(p.client, p.server, "abc");
            corio_test::reset_connection(p.client);  // front's recv fails: ECONNRESET
        };
        // The server never sends: the copy from back to front waits until it is cancelled.
        auto [moved, done] = co_await corio::when_all(copy_then_close(p), script(p));
        (void)done;
        REQUIRE_FALSE(moved);
        CHECK(moved.error() == std::errc::connection_reset);
    }());
}

TEST_CASE("a cancelled copy_bidirectional returns operation_canceled and leaves unread bytes",
          "[copy_test]") {
    corio_test::run_test([]() -> task<> {
        auto listener = corio_test::bind_loopback();
        auto p = co_await make_proxied(listener);
        std::stop_source stop;
        auto script = [](proxied& p, std::stop_source& stop) -> task<> {
            co_await pass(p.client, p.server, "abc");
            stop.request_stop();  // both directions are parked on their recv now
        };
        corio::copy_totals progress;
        corio::copy_options options;
        options.progress = &progress;
        auto [moved, done] = co_await corio::when_all(
            corio::copy_bidirectional(p.front, p.back, options, stop.get_token()),
            script(p, stop));
        (void)done;
        REQUIRE_FALSE(moved);
        CHECK(moved.error() == std::errc::operation_canceled);
        CHECK(progress.a_to_b == 3);
        // What arrives after the cancellation is there for the next reader, on both streams.
        co_await pass(p.client, p.front, "late");
        co_await pass(p.server, p.back, "back");
        // The caller's ambient token cancels it too: with_timeout reports timed_out.
        auto timed = co_await corio::with_timeout(0ms, corio::copy_bidirectional(p.front, p.back));
        REQUIRE_FALSE(timed);
        CHECK(timed.error() == std::errc::timed_out);
    }());
}

TEST_CASE("copy_bidirectional's idle timeout counts from the last byte either way",
          "[copy_test]") {
    corio::manual_clock clock;
    corio::runtime_options options;
    options.clock = &clock;
    corio::runtime rt(std::move(options));
    rt.block_on([](corio::manual_clock& clock) -> task<> {
        auto listener = corio_test::bind_loopback();
        auto p = co_await make_proxied(listener);
        auto script = [](proxied& p, corio::manual_clock& clock) -> task<> {
            // Each step moves the clock less than the 10 s timeout past the last byte; a copy
            // that timed out early closes front and back, and the round trip after fails.
            const std::pair<corio::clock_type::duration, bool> steps[] = {
                {6s, true}, {6s, false}, {9s, true}, {9s, false}};
            for (const auto& [step, upward] : steps) {
                clock.advance(step);
                tcp_stream& from = upward ? p.client : p.server;
                tcp_stream& to = upward ? p.server : p.client;
                co_await pass(from, to, "x");
            }
            clock.advance(10s);  // 10 s after the last byte: the copy ends
        };
        corio::copy_options idle;
        idle.idle_timeout = 10s;
        auto [moved, done] = co_await corio::when_all(copy_then_close(p, idle), script(p, clock));
        (void)done;
        REQUIRE_FALSE(moved);
        CHECK(moved.error() == std::errc::timed_out);
        // The copy closed both ends when it returned: client and server see the end of stream.
        const std::string at_client = co_await recv_rest(p.client);
        const std::string at_server = co_await recv_rest(p.server);
        CHECK(at_client.empty());
        CHECK(at_server.empty());
    }(clock));
}

TEST_CASE("a copy still running when its runtime goes away is destroyed with it",
          "[copy_test]") {
    // Under ASan: the parked directions, their pooled buffers, the idle watch and the stop
    // callbacks are all released with the task, nothing touched after.
    corio_test::run_test([]() -> task<> {
        auto listener = corio_test::bind_loopback();
        auto p = co_await make_proxied(listener);
        bool ended = false;
        corio::spawn([](proxied p, bool& ended) -> task<> {
            corio::copy_options options;
            options.idle_timeout = 1h;
            (void)co_await corio::copy_bidirectional(p.front, p.back, options);
            ended = true;
        }(std::move(p), ended));
        co_await corio::yield{};  // the copy starts and parks on both receives
        CHECK_FALSE(ended);
    }());
}

// A stream over a Unix socket pair's end: copy needs nothing TCP-specific.
struct unix_end {
    corio::io_handle h;
    auto recv(std::span<std::byte> buf, std::stop_token token = {}) {
        return h.recv(buf, std::move(token));
    }
    auto send(std::span<const std::byte> buf, std::stop_token token = {}) {
        return h.send(buf, std::move(token));
    }
    corio::result<void> shutdown(corio::shutdown_how) noexcept {
        if (::shutdown(h.fd(), SHUT_WR) != 0) {
            return std::error_code(errno, std::system_category());
        }
        return {};
    }
};

TEST_CASE("copy works over any async stream: a Unix socket pair to TCP", "[copy_test]") {
    STATIC_REQUIRE(corio::async_stream<unix_end>);
    corio_test::run_test([]() -> task<> {
        corio_test::socket_pair pair;
        unix_end writer{corio::io_handle(pair.take(0))};
        unix_end reader{corio::io_handle(pair.take(1))};
        auto listener = corio_test::bind_loopback();
        auto p = co_await make_proxied(listener);
        auto feed = [](unix_end& w) -> task<corio::result<void>> {
            std::vector<std::byte> data(100 * 1000);
            corio_test::fill_pattern(3, 0, data);
            for (std::span<const std::byte> rest = data; !rest.empty();) {
                auto n = co_await w.send(rest);
                if (!n) {
                    co_return n.error();
                }
                rest = rest.subspan(*n);
            }
            co_return w.shutdown(corio::shutdown_how::send);
        };
        auto [moved, fed, got] = co_await corio::when_all(corio::copy(reader, p.client),
                                                          feed(writer), check_pattern(p.front, 3));
        corio_test::require_ok(moved, "copy");
        CHECK(*moved == 100 * 1000);
        CHECK(fed);
        require_intact(got, 100 * 1000);
    }());
}

}  // namespace
