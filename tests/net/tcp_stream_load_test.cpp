// SPDX-License-Identifier: MIT
// Tests for corio/net/tcp_stream.hpp under load: a thousand loopback connections in one runtime,
// each echoing a random amount sent in random chunks.
#include <corio/net/tcp_stream.hpp>

#include <corio/backend.hpp>
#include <corio/event.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include "support/descriptor_limit.hpp"
#include "support/emulated_kqueue.hpp"
#include "support/net_loopback.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

using corio::task;
using corio::net::endpoint;
using corio::net::shutdown_how;
using corio::net::tcp_listener;
using corio::net::tcp_stream;
using namespace corio_test;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t max_message = 256 * 1024;
constexpr std::size_t max_chunk = 64 * 1024;

// 1..max, spread over every power of two up to max, so tiny and large sizes are both common.
// Built from raw mt19937 output (fully specified by the standard): the same on every library.
std::size_t random_size(std::mt19937& rng, std::size_t max) {
    const auto bits = rng() % (static_cast<unsigned>(std::bit_width(max)) + 1);
    const std::size_t span = std::min(max, std::size_t{1} << bits);
    return 1 + rng() % span;
}

struct bulk_plan {
    std::uint64_t seed;      // names the byte stream this connection sends
    std::size_t size;        // how many bytes it sends
    std::uint32_t chunking;  // seeds the sizes of its send calls
};

struct bulk_tally {
    int clients_left = 0;
    corio::event clients_done;
    std::vector<std::string> failures;
    void fail(std::string what) {
        if (failures.size() < 10) {
            failures.push_back(std::move(what));
        }
    }
};

task<> send_in_random_chunks(tcp_stream& s, bulk_plan plan, bulk_tally& tally, corio::event& sent) {
    std::mt19937 chunks(plan.chunking);
    std::vector<std::byte> buf(std::min(plan.size, max_chunk));
    for (std::size_t at = 0; at < plan.size;) {
        const std::size_t n = std::min(plan.size - at, random_size(chunks, max_chunk));
        fill_pattern(plan.seed, at, std::span(buf).first(n));
        if (auto r = co_await s.send_all(std::span(buf).first(n)); !r) {
            tally.fail("seed " + std::to_string(plan.seed) + " send: " + r.error().message());
            break;
        }
        at += n;
    }
    (void)s.shutdown(shutdown_how::send);
    sent.set();
}

task<> bulk_client(endpoint server, bulk_plan plan, bulk_tally& tally) {
    const std::string name = "seed " + std::to_string(plan.seed) + " ";
    if (auto s = co_await tcp_stream::connect(server); !s) {
        tally.fail(name + "connect: " + s.error().message());
    } else {
        corio::event sent;
        corio::spawn(send_in_random_chunks(*s, plan, tally, sent));
        std::size_t got = 0;
        bool ok = true;
        while (ok) {
            auto b = co_await s->recv();
            if (!b || b->empty()) {
                ok = b.has_value();
                if (!b) {
                    tally.fail(name + "recv: " + b.error().message());
                }
                break;
            }
            if (auto at = first_difference(plan.seed, got, b->bytes())) {
                tally.fail(name + "byte " + std::to_string(got + *at) + " differs");
                ok = false;
            }
            got += b->size();
        }
        if (!ok) {
            (void)s->close();  // a sender parked on a full socket resumes with errc::closed
        } else if (got != plan.size) {
            tally.fail(name + "got " + std::to_string(got) + " of " + std::to_string(plan.size));
        }
        (void)co_await sent.wait();  // the sender uses *s until then
    }
    if (--tally.clients_left == 0) {
        tally.clients_done.set();
    }
}

task<> accept_and_echo(tcp_listener& listener, int count, bulk_tally& tally) {
    for (int i = 0; i < count; ++i) {
        auto s = co_await listener.accept();
        if (!s) {
            tally.fail("accept: " + s.error().message());
            co_return;
        }
        corio::spawn(echo_until_end(std::move(*s)));
    }
}

TEST_CASE(
    "1000 concurrent connections each get back exactly the bytes they sent in random "
    "chunks") {
    if (corio_test::on_emulated_kqueue()) {
        WARN("skipped on libkqueue: when its output list fills it drops the epoll events it "
             "already fetched (src/linux/platform.c, linux_kevent_copyout), which EV_CLEAR "
             "never reports again");
        return;
    }
    // select() watches only descriptors below FD_SETSIZE (1024), two per connection here.
    const int connections = corio::default_backend_name() == "select" ? 450 : 1000;
    descriptor_limit limit(2 * static_cast<rlim_t>(connections) + 64);
    if (!limit.ok()) {
        WARN("skipped: RLIMIT_NOFILE's hard limit is below " << 2 * connections + 64);
        return;
    }
    bulk_tally tally;
    run_test(
        [&]() -> task<> {
            auto listener = bind_loopback();
            const endpoint server = endpoint_of(listener);
            corio::spawn(accept_and_echo(listener, connections, tally));
            std::mt19937 rng(20240611);  // fixed: a failure reproduces
            tally.clients_left = connections;
            for (int i = 0; i < connections; ++i) {
                // The extremes always, then random sizes.
                const std::size_t size = i == 0   ? 1
                                         : i == 1 ? max_message
                                                  : random_size(rng, max_message);
                const bulk_plan plan{std::uint64_t(i) + 1, size, static_cast<std::uint32_t>(rng())};
                corio::spawn(bulk_client(server, plan, tally));
            }
            (void)co_await tally.clients_done.wait();
        }(),
        60s);
    INFO(connections << " connections");
    for (const auto& f : tally.failures) {
        FAIL_CHECK(f);
    }
    CHECK(tally.failures.empty());
}

}  // namespace
