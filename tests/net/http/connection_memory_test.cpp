// SPDX-License-Identifier: MIT
// What an HTTP connection holds: answers to a pipelining client that does not read them are
// bounded (the server stops reading instead), and an idle keep-alive connection does not keep
// the buffers a large request grew. Measured as the process's heap in use (glibc's mallinfo2).
#include "support/http_fixture.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <string>
#include <vector>

#include <malloc.h>
#include <sys/socket.h>

#if defined(__SANITIZE_ADDRESS__)
#define CORIO_TEST_HEAP_MEASURED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORIO_TEST_HEAP_MEASURED 0
#endif
#endif
#ifndef CORIO_TEST_HEAP_MEASURED
#define CORIO_TEST_HEAP_MEASURED 1
#endif

namespace {

using namespace corio_test;

// Under a sanitizer malloc is not glibc's, and mallinfo2 does not see it.
constexpr bool heap_measured = CORIO_TEST_HEAP_MEASURED != 0;

// Bytes allocated from the heap: small chunks in the arenas plus mmapped large ones.
std::size_t heap_in_use() {
    const struct mallinfo2 m = ::mallinfo2();
    return m.uordblks + m.hblkhd;
}

// The heap grown since `base`, per connection.
std::size_t per_connection(std::size_t now, std::size_t base, std::size_t connections) {
    return now > base ? (now - base) / connections : 0;
}

constexpr std::size_t kib = 1024;
constexpr std::string_view small_request = "GET /kib HTTP/1.1\r\nHost: x\r\n\r\n";

std::string repeated(std::string_view text, std::size_t n) {
    std::string s;
    s.reserve(text.size() * n);
    for (std::size_t i = 0; i < n; ++i) {
        s.append(text);
    }
    return s;
}

// /kib answers 1 KiB.
void kib_route(router& r) {
    r.route(method::get, "/kib", [](const request&) -> task<response> {
        co_return response(200, std::string(kib, 'k'), "application/octet-stream");
    });
}

// Small kernel buffers, so a peer that does not read holds up the server's writes soon.
void small_socket_buffers(int fd) {
    const int bytes = 32 << 10;
    REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) == 0);
    REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) == 0);
}

// Sends `text` and never reads; ends when sent or when the stream is closed under it.
task<> send_and_never_read(tcp_stream& s, const std::string& text, std::size_t& finished,
                           corio::event& all_finished, std::size_t senders) {
    (void)co_await s.send_all(bytes_of(text));
    if (++finished == senders) {
        all_finished.set();
    }
}

// Turns the loop, calling `sample` each turn, until the server's counters (bytes in and out,
// requests answered) have not moved for `quiet` turns in a row: every connection waits on its
// peer. At most `limit` turns; returns whether it got quiet.
task<bool> until_quiet(const server& srv, const std::function<void()>& sample, int quiet = 2000,
                       int limit = 2000000) {
    const auto progress = [&srv] {
        const server_metrics& m = srv.metrics();
        std::uint64_t answered = 0;
        for (const std::uint64_t n : m.requests_by_class) {
            answered += n;
        }
        return std::array<std::uint64_t, 3>{m.bytes_in, m.bytes_out, answered};
    };
    auto last = progress();
    int still = 0;
    for (int turn = 0; turn < limit && still < quiet; ++turn) {
        co_await corio::yield{};
        sample();
        const auto now = progress();
        still = now == last ? still + 1 : 0;
        last = now;
    }
    co_return still >= quiet;
}

TEST_CASE("http connection memory: 100 pipelining clients that never read their answers hold a "
          "bounded amount of server memory each") {
    run_test([]() -> task<> {
        constexpr std::size_t clients = 100;
        // 4,000 requests a client: 4 MB of answers each, far beyond the socket buffers.
        const std::string batch = repeated(small_request, 4000);
        fixture f({}, kib_route);
        small_socket_buffers(f.listener.handle().fd());
        std::vector<tcp_stream> conns;
        conns.reserve(clients);
        std::size_t finished = 0;
        corio::event all_finished;
        const std::size_t base = heap_in_use();
        for (std::size_t i = 0; i < clients; ++i) {
            conns.push_back(co_await f.connect());
            small_socket_buffers(conns.back().handle().fd());
        }
        for (tcp_stream& s : conns) {
            corio::spawn(send_and_never_read(s, batch, finished, all_finished, clients));
        }
        std::size_t peak = base;
        const bool quiet = co_await until_quiet(*f.srv, [&peak] {
            peak = std::max(peak, heap_in_use());
        });
        CHECK(quiet);
        const std::uint64_t read = f.srv->metrics().bytes_in;
        CAPTURE(read);
        CHECK(read < clients * batch.size() / 2);  // the server stopped reading their requests
        CHECK(f.srv->metrics().open_connections == clients);
        const std::size_t each = per_connection(peak, base, clients);
        CAPTURE(each);
        if (heap_measured) {
            // At most 64 KiB of answers (in a buffer of up to twice that) and a 16 KiB input
            // buffer; before backpressure it was every answer to a read: 600 KiB and more.
            CHECK(each < 256 * kib);
        }
        for (tcp_stream& s : conns) {
            (void)s.close();  // each pending send ends with errc::closed
        }
        (void)co_await all_finished.wait();
        co_await f.stop();
    }());
}

// One load that makes a connection's buffers grow, then a small request: once its answer is
// here, the server has gone idle after the load at least once.
task<> grow_then_idle(tcp_stream& s, std::string_view load) {
    response_reader rd{s};
    if (load == "1 MiB echo") {
        const std::string body(1024 * kib, 'e');
        const std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n";
        co_await send(s, head);
        co_await send(s, body);
        const reply r = co_await rd.next();
        CHECK(r.status() == 200);
        CHECK(r.body == body);
    } else if (load == "pipelined batch") {
        constexpr std::size_t n = 2000;
        const std::string batch = repeated(small_request, n);
        corio::event sent;  // read while sending: the server stops reading while answers wait
        corio::spawn([](tcp_stream& s, const std::string& batch, corio::event& sent) -> task<> {
            co_await send(s, batch);
            sent.set();
        }(s, batch, sent));
        std::size_t whole = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const reply r = co_await rd.next();
            whole += r.status() == 200 && r.body.size() == kib ? 1 : 0;
        }
        CHECK(whole == n);
        (void)co_await sent.wait();
    } else {
        const std::string big = "GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                std::string(150 * kib, 'h') + "\r\n\r\n";
        co_await send(s, big);
        const reply r = co_await rd.next();
        CHECK(r.status() == 200);
    }
    co_await send(s, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
    const reply last = co_await rd.next();
    CHECK(last.status() == 200);
}

TEST_CASE("http connection memory: idle keep-alive connections release the buffers a large "
          "request grew") {
    const char* const load = GENERATE("1 MiB echo", "pipelined batch", "big head");
    CAPTURE(load);
    run_test([](std::string load) -> task<> {
        constexpr std::size_t clients = 20;
        server_options o;
        o.limits.max_header_section = 256 * kib;  // lets a head grow the input buffer that far
        fixture f(o, kib_route);
        std::vector<tcp_stream> conns;
        conns.reserve(clients);
        const std::size_t base = heap_in_use();
        for (std::size_t i = 0; i < clients; ++i) {
            conns.push_back(co_await f.connect());
            co_await grow_then_idle(conns.back(), load);
        }
        const std::size_t each = per_connection(heap_in_use(), base, clients);
        CAPTURE(each);
        if (heap_measured) {
            // The 16 KiB input buffer, the parser and the frames; it was megabytes.
            CHECK(each < 64 * kib);
        }
        for (tcp_stream& s : conns) {
            (void)s.close();
        }
        co_await f.stop();
    }(load));
}

}  // namespace
