// SPDX-License-Identifier: MIT
// echo_client: N concurrent connections each send K messages and check every echoed byte.
#include <corio/event.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/runtime.hpp>

#include "cli.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <numeric>
#include <random>
#include <span>
#include <vector>

using corio::task;
using corio::net::endpoint;
using corio::net::tcp_stream;

constexpr const char* usage =
    "usage: echo_client --host H --port P [--conns N] [--size B] [--count K] [--backend NAME]\n"
    "                   [--list-backends] [--help]\n"
    "Opens N connections (default 1); each sends K messages (default 1000) of B bytes\n"
    "(default 64, at most 65536) and checks every echoed byte. Exits 1 on a mismatch or a\n"
    "connection error. H is an address or a name (localhost), resolved once; each connection\n"
    "tries its addresses with Happy Eyeballs (IPv6 first, the next 250 ms later).\n";

// One message in flight per connection: with at most 64 KiB outstanding, the server's reply
// always fits in the socket buffers, so sending everything before reading cannot deadlock.
constexpr std::size_t max_size = 64 * 1024;

struct totals {
    int running = 0;
    std::size_t messages = 0, bytes = 0, mismatches = 0, errors = 0;
    corio::event all_done;
};

// Sends msg, reads the echo into `echoed`; returns how many bytes differ.
task<corio::result<std::size_t>> exchange(tcp_stream& s, std::span<const std::byte> msg,
                                          std::span<std::byte> echoed) {
    if (auto sent = co_await s.send_all(msg); !sent) {
        co_return sent.error();
    }
    for (std::size_t got = 0; got < msg.size();) {
        auto n = co_await s.recv(echoed.subspan(got));
        if (!n || *n == 0) {  // an error, or the server closed early
            co_return n ? make_error_code(corio::errc::unexpected_eof) : n.error();
        }
        got += *n;
    }
    co_return std::transform_reduce(msg.begin(), msg.end(), echoed.begin(), std::size_t{0},
                                    std::plus<>(), std::not_equal_to<>());
}

task<> talk(std::vector<endpoint> server, int id, std::size_t size, int count, totals& t) {
    std::mt19937 pattern(static_cast<unsigned>(id));  // each connection sends its own bytes
    std::vector<std::byte> msg(size), echoed(size);
    auto s = co_await tcp_stream::connect(std::move(server));
    std::error_code failed = s.error();
    for (int m = 0; !failed && m < count; ++m) {
        std::generate(msg.begin(), msg.end(), [&] { return std::byte(pattern() & 0xff); });
        auto differ = co_await exchange(*s, msg, echoed);
        if (!differ) {
            failed = differ.error();
        } else {
            t.mismatches += *differ;
            t.bytes += size;
            ++t.messages;
        }
    }
    if (failed) {
        fmt::print(stderr, "echo_client: connection {}: {}\n", id, failed.message());
        ++t.errors;
    }
    if (--t.running == 0) {
        t.all_done.set();
    }
}

task<> run(const std::vector<endpoint>& server, int conns, std::size_t size, int count, totals& t) {
    t.running = conns;
    for (int id = 0; id < conns; ++id) {
        corio::spawn(talk(server, id, size, count, t));
    }
    (void)co_await t.all_done.wait();
}

int main(int argc, char** argv) {
    std::string host, backend;
    int port = -1, conns = 1, count = 1000;
    std::size_t size = 64;
    cli::args a(argc, argv, usage);
    while (a.next()) {
        if (a.common(backend)) {
        } else if (a.is("--host")) {
            host = a.value();
        } else if (a.is("--port")) {
            port = a.number<int>(1, 65535);
        } else if (a.is("--conns")) {
            conns = a.number<int>(1, 100000);
        } else if (a.is("--size")) {
            size = a.number<std::size_t>(1, max_size);
        } else if (a.is("--count")) {
            count = a.number<int>(1, 1 << 30);
        } else {
            a.unknown();
        }
    }
    if (host.empty() || port < 0) {
        a.fail("--host and --port are required");
    }
    const std::vector<endpoint> server = a.endpoints(host, static_cast<std::uint16_t>(port));
    cli::raise_fd_limit();
    corio::runtime rt = a.runtime(backend);
    totals t;
    const auto start = std::chrono::steady_clock::now();
    rt.block_on(run(server, conns, size, count, t));
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    fmt::print("conns={} messages={} bytes={} seconds={:.3f} msgs/s={:.0f} mismatches={}\n", conns,
               t.messages, t.bytes, took.count(), t.messages / took.count(), t.mismatches);
    return t.mismatches == 0 && t.errors == 0 ? 0 : 1;
}
