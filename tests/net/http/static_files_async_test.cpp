// SPDX-License-Identifier: MIT
// static_files reads a file's body through corio::file: while a cold file waits for the disk,
// the loop goes on serving other requests, and the body then arrives whole and exact.
#include <corio/http/static_files.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/http/server.hpp>
#include <corio/spawn_blocking.hpp>

#include "support/blocking_gate.hpp"
#include "support/net_loopback.hpp"
#include "support/temp_files.hpp"

#include <string>

#include <sys/socket.h>

namespace {

using namespace corio_test;
using namespace corio::http;
using corio::task;
using corio::net::tcp_stream;

/// big.txt (2 MiB) and small.txt in a temporary directory.
struct site_dir {
    temp_dir dir;
    std::string big;
    site_dir() {
        big.resize(2 << 20);
        for (std::size_t i = 0; i < big.size(); ++i) {
            big[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
        }
        write_plain(dir / "big.txt", std::as_bytes(std::span(big)));
        write_plain(dir / "small.txt", std::as_bytes(std::span("small", 5)));
    }
};

std::string get(std::string_view path) {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
}

std::span<const std::byte> as_span(const std::string& s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

/// Receives on `s` until `text` holds `until` (or, with an empty `until`, the stream ends).
task<> receive(tcp_stream& s, std::string& text, std::string_view until) {
    char buf[65536];
    while (until.empty() || text.find(until) == std::string::npos) {
        auto n = co_await s.recv(std::as_writable_bytes(std::span(buf)));
        require_ok(n, "recv");
        if (*n == 0) {
            co_return;
        }
        text.append(buf, *n);
    }
}

task<> hold_pool(blocking_gate& hold, corio::event& released) {
    (void)co_await corio::spawn_blocking([&hold] { return hold.wait(); });
    released.set();
}

task<> serve(server& srv, corio::net::tcp_listener& listener) { (void)co_await srv.serve(listener); }

/// One attempt: true if, with `pool_reads`, nothing of the big body had arrived when the small
/// reply was complete (the read waited on the pool); the body is checked whole either way.
task<bool> cold_body_waits_off_the_loop(const site_dir& site, bool pool_reads) {
    auto files = static_files::open(site.dir.path.string());
    REQUIRE(files);
    router routes;
    routes.fallback(files->as_handler());
    server srv(std::move(routes));
    auto listener = bind_loopback();
    const auto at = endpoint_of(listener);
    blocking_gate hold;  // the pool's only thread waits here: a read handed to the pool waits too
    corio::event released;
    corio::spawn(hold_pool(hold, released));
    corio::spawn(serve(srv, listener));

    auto big = co_await tcp_stream::connect(at);
    require_ok(big, "connect");
    require_ok(co_await big->send_all(as_span(get("/big.txt"))), "send");
    std::string big_reply;
    co_await receive(*big, big_reply, "\r\n\r\n");  // the head is out: the body is being read
    CHECK(big_reply.find("Content-Length: 2097152\r\n") != std::string::npos);

    auto small = co_await tcp_stream::connect(at);
    require_ok(small, "connect");
    require_ok(co_await small->send_all(as_span(get("/small.txt"))), "send");
    std::string small_reply;
    co_await receive(*small, small_reply, {});
    CHECK(small_reply.substr(small_reply.find("\r\n\r\n") + 4) == "small");
    bool waited = true;
    if (pool_reads) {
        // The big body's first read still waits behind the held pool thread, yet the loop
        // answered the other request meanwhile: nothing of the body was sent yet.
        char probe;
        const ssize_t peeked = ::recv(big->handle().fd(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        waited = big_reply.size() == big_reply.find("\r\n\r\n") + 4 && peeked < 0;
    }
    hold.open();
    co_await receive(*big, big_reply, {});
    const std::string body = big_reply.substr(big_reply.find("\r\n\r\n") + 4);
    CHECK(body.size() == site.big.size());
    CHECK(body == site.big);
    srv.stop();
    (void)co_await released.wait();
    co_return waited;
}

TEST_CASE("static files: a cold file's body is read off the loop while others are served") {
    site_dir site;
    // The loop first asks the page cache (preadv2 RWF_NOWAIT). That call starts the readahead,
    // and on a fast disk the pages are sometimes in before it returns (3% of calls here): then
    // the loop sends the body itself, rightly. Each attempt starts cold again; a loop that read
    // cold files itself would send the body early every time.
    constexpr int attempts = 10;
    int early = 0;
    for (; early < attempts; ++early) {
        if (!make_cold(site.dir / "big.txt")) {
            WARN("posix_fadvise(DONTNEED) did not drop the file's pages here: a read would not wait");
            return;
        }
        corio::runtime rt(with_blocking_threads(1));
        // On io_uring the kernel reads (the pool is not involved); elsewhere the blocking pool.
        const bool pool_reads = rt.backend_name() != "io_uring";
        auto waited = rt.block_on(corio::with_timeout(30s, cold_body_waits_off_the_loop(site, pool_reads)));
        INFO("the test did not finish within its deadline");
        REQUIRE(waited);
        if (*waited) {
            break;
        }
    }
    INFO("the body was sent before the held pool thread could read it, on every attempt");
    CHECK(early < attempts);
}

}  // namespace
