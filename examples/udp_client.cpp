// SPDX-License-Identifier: MIT
// udp_client: sends K datagrams to a UDP echo server, one at a time, and checks each reply
// (a connected udp_socket; a reply that does not come in time counts as lost).
#include <corio/net/udp_socket.hpp>
#include <corio/runtime.hpp>
#include <corio/stop_timer.hpp>

#include "cli.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <random>
#include <span>
#include <stop_token>
#include <vector>

using corio::task;
using corio::net::udp_socket;

constexpr const char* usage =
    "usage: udp_client --host H --port P [--count K] [--size B] [--timeout-ms T] [--backend NAME]\n"
    "                  [--list-backends] [--help]\n"
    "Sends K datagrams (default 100) of B bytes (default 64, at most 65507) to a UDP echo\n"
    "server, each after the previous reply, and checks every reply byte. A reply not back\n"
    "within T ms (default 1000) is lost. Prints 'sent=K received=R lost=L mismatches=M';\n"
    "exits 1 unless every reply came back intact. H: an address or a name (its first address).\n";

struct totals {
    std::size_t sent = 0, received = 0, lost = 0, mismatches = 0;
};

task<corio::result<totals>> run(udp_socket& s, int count, std::size_t size,
                                std::chrono::milliseconds timeout) {
    std::mt19937 pattern(42);
    std::vector<std::byte> msg(size), reply(size + 1);  // one more: a longer reply is wrong too
    totals t;
    for (int m = 0; m < count; ++m) {
        std::generate(msg.begin(), msg.end(), [&] { return std::byte(pattern() & 0xff); });
        auto sent = co_await s.send(msg);
        if (!sent) {
            co_return sent.error();
        }
        ++t.sent;
        std::stop_source expired;  // a fresh one per datagram: a stopped source stays stopped
        corio::stop_timer deadline(expired);
        deadline.arm(timeout);
        auto got = co_await s.recv(reply, expired.get_token());
        if (!got && expired.stop_requested()) {
            ++t.lost;
            continue;
        }
        if (!got) {
            co_return got.error();  // ECONNREFUSED: nobody listens there
        }
        ++t.received;
        if (got->length != size || !std::equal(msg.begin(), msg.end(), reply.begin())) {
            ++t.mismatches;
        }
    }
    co_return t;
}

int main(int argc, char** argv) {
    std::string host, backend;
    std::uint16_t port = 0;
    int count = 100, timeout_ms = 1000;
    std::size_t size = 64;
    cli::args a(argc, argv, usage);
    while (a.next()) {
        if (a.common(backend)) {
        } else if (a.is("--host")) {
            host = a.value();
        } else if (a.is("--port")) {
            port = a.number<std::uint16_t>(1, 65535);
        } else if (a.is("--count")) {
            count = a.number<int>(1, 100'000'000);
        } else if (a.is("--size")) {
            size = a.number<std::size_t>(0, 65507);
        } else if (a.is("--timeout-ms")) {
            timeout_ms = a.number<int>(1, 3'600'000);
        } else {
            a.unknown();
        }
    }
    if (host.empty() || port == 0) {
        a.fail("--host and --port are required");
    }
    const auto server = a.endpoint(host, port);
    corio::runtime rt = a.runtime(backend);
    auto s = udp_socket::open(server.address().family());
    if (!s) {
        fmt::print(stderr, "udp_client: socket: {}\n", s.error().message());
        return 1;
    }
    if (auto c = s->connect(server); !c) {
        fmt::print(stderr, "udp_client: connect {}: {}\n", server.to_string(), c.error().message());
        return 1;
    }
    auto t = rt.block_on(run(*s, count, size, std::chrono::milliseconds(timeout_ms)));
    if (!t) {
        fmt::print(stderr, "udp_client: {}: {}\n", server.to_string(), t.error().message());
        return 1;
    }
    fmt::print("sent={} received={} lost={} mismatches={}\n", t->sent, t->received, t->lost,
               t->mismatches);
    return t->received == t->sent && t->mismatches == 0 ? 0 : 1;
}
