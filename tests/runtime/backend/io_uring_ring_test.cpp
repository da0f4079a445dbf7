// SPDX-License-Identifier: MIT
// The io_uring ring at its limits: a ring of 8 entries (16 completions) under hundreds of
// concurrent operations, cancellations and destroyed frames. Nothing may be dropped: every
// operation completes exactly once, with its bytes, and nothing touches freed memory (ASan).
#include <corio/cancel.hpp>
#include <corio/io_handle.hpp>
#include <corio/latch.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include <catch2/catch.hpp>

#include "support/descriptor_limit.hpp"
#include "support/io_uring_runtime.hpp"
#include "support/socket_pair.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::task;

corio::runtime_options tiny_ring() {
    corio::runtime_options o;
    o.backend_options.io_uring_entries = 8;
    return o;
}

struct counts {
    std::size_t echoed = 0;     // round trips whose bytes came back exactly
    std::size_t cancelled = 0;  // recvs that resumed with operation_canceled
    std::size_t wrong = 0;      // anything else
};

// `rounds` round trips on one end: send a numbered message, receive the peer's.
task<> talk(corio::io_handle& h, std::size_t id, std::size_t peer, int rounds, counts& c) {
    for (int r = 0; r < rounds; ++r) {
        const std::string out = "msg " + std::to_string(id) + " " + std::to_string(r) + ";";
        auto sent = co_await h.send(corio_test::as_bytes(out));
        if (!sent || *sent != out.size()) {
            ++c.wrong;
            co_return;
        }
        const std::string expect = "msg " + std::to_string(peer) + " " + std::to_string(r) + ";";
        std::string got;
        while (got.size() < expect.size()) {
            std::array<std::byte, 64> buf;
            auto n = co_await h.recv(std::span(buf).first(expect.size() - got.size()));
            if (!n || *n == 0) {
                ++c.wrong;
                co_return;
            }
            got += corio_test::as_string({buf.data(), *n});
        }
        if (got != expect) {
            ++c.wrong;
            co_return;
        }
        ++c.echoed;
    }
}

// A recv that nobody answers, ended by its stop token.
task<> wait_to_be_cancelled(corio::io_handle& h, std::stop_token token, counts& c) {
    std::array<std::byte, 16> buf;
    auto n = co_await h.recv(buf, std::move(token));
    if (!n && n.error() == std::errc::operation_canceled) {
        ++c.cancelled;
    } else {
        ++c.wrong;
    }
}

task<> stop_all(std::vector<std::unique_ptr<std::stop_source>>& stops) {
    co_await corio::yield();  // after every recv has been submitted
    for (auto& s : stops) {
        s->request_stop();
    }
}

task<> wait_until(const counts& c, std::size_t echoed, std::size_t cancelled) {
    while (c.echoed + c.wrong < echoed || c.cancelled < cancelled) {
        (void)co_await corio::sleep_for(1ms);
    }
}

// talk(), then one count off `done`.
task<> talk_then_count_down(corio::io_handle& h, std::size_t id, std::size_t peer, int rounds,
                            counts& c, corio::latch& done) {
    co_await talk(h, id, peer, rounds, c);
    done.count_down();
}

// Reads runtime::backend_stats() over and over on loop 0 until loop 1 is done: the counters
// only grow, whatever the other loop is doing to them at the time.
task<std::size_t> sample_until(corio::runtime& rt, corio::latch& done, std::size_t& backwards) {
    std::size_t samples = 0;
    corio::reactor_stats last;
    while (!done.try_wait()) {
        const corio::reactor_stats now = rt.backend_stats();
        if (now.enters < last.enters || now.operations < last.operations ||
            now.submissions < last.submissions) {
            ++backwards;
        }
        last = now;
        ++samples;
        co_await corio::yield();
    }
    co_return samples;
}

}  // namespace

TEST_CASE("io_uring: backend_stats() read on loop 0 while loop 1 runs I/O sums both loops' "
          "counters, and only ever grows (no data race: TSan)") {
    corio::runtime_options o;
    o.threads = 2;
    auto rt = corio_test::io_uring_runtime_or_skip(std::move(o));
    if (!rt) {
        return;
    }
    corio_test::socket_pair pair;
    corio::io_handle a(pair.take(0));
    corio::io_handle b(pair.take(1));
    counts c;
    corio::latch done(2);
    constexpr int rounds = 500;
    rt->spawn_on(1, talk_then_count_down(a, 0, 1, rounds, c, done));
    rt->spawn_on(1, talk_then_count_down(b, 1, 0, rounds, c, done));
    std::size_t backwards = 0;
    const std::size_t samples = rt->block_on(sample_until(*rt, done, backwards));
    const corio::reactor_stats end = rt->backend_stats();
    INFO(samples << " samples; enters " << end.enters << ", operations " << end.operations);
    CHECK(c.echoed == 2 * rounds);
    CHECK(c.wrong == 0);
    CHECK(backwards == 0);
    CHECK(end.operations > 0);  // only loop 1 submits operations: its counters are in the sum
    rt.reset();                 // before the handles loop 1 owns
}

TEST_CASE("io_uring with an 8-entry ring: 600 sockets talking at once, 200 recvs cancelled and "
          "100 frames destroyed mid-recv lose nothing") {
    corio_test::descriptor_limit fds(4096);
    REQUIRE(fds.ok());
    auto rt = corio_test::io_uring_runtime_or_skip(tiny_ring());
    if (!rt) {
        return;
    }
    constexpr std::size_t talkers = 300;  // pairs, both ends talking: 600 handles
    constexpr std::size_t quiet = 200;    // pairs whose recv is cancelled
    constexpr std::size_t doomed = 100;   // pairs whose recv is still in the kernel at the end
    constexpr int rounds = 10;
    std::vector<std::unique_ptr<corio_test::socket_pair>> pairs;
    std::vector<std::unique_ptr<corio::io_handle>> ends;
    for (std::size_t i = 0; i < talkers + quiet + doomed; ++i) {
        auto& p = pairs.emplace_back(std::make_unique<corio_test::socket_pair>());
        ends.push_back(std::make_unique<corio::io_handle>(p->take(0)));
        ends.push_back(std::make_unique<corio::io_handle>(p->take(1)));
    }
    counts c;
    std::vector<std::unique_ptr<std::stop_source>> stops;
    for (std::size_t i = 0; i < talkers; ++i) {
        rt->spawn(talk(*ends[2 * i], 2 * i, 2 * i + 1, rounds, c));
        rt->spawn(talk(*ends[2 * i + 1], 2 * i + 1, 2 * i, rounds, c));
    }
    for (std::size_t i = talkers; i < talkers + quiet; ++i) {
        auto& s = stops.emplace_back(std::make_unique<std::stop_source>());
        rt->spawn(wait_to_be_cancelled(*ends[2 * i], s->get_token(), c));
    }
    for (std::size_t i = talkers + quiet; i < talkers + quiet + doomed; ++i) {
        rt->spawn(wait_to_be_cancelled(*ends[2 * i], {}, c));  // never ends: destroyed below
    }
    rt->spawn(stop_all(stops));
    rt->block_on(wait_until(c, 2 * talkers * rounds, quiet));
    CHECK(c.wrong == 0);
    CHECK(c.echoed == 2 * talkers * rounds);
    CHECK(c.cancelled == quiet);
    const corio::reactor_stats stats = rt->backend_stats();
    INFO("enters " << stats.enters << ", SQEs " << stats.submissions << ", operations "
                   << stats.operations);
    CHECK(stats.full_sq_submits > 0);  // the paths under test were taken: a full SQ,
    CHECK(stats.cq_overflows > 0);     // and more completions at once than the CQ holds
    rt.reset();  // destroys the 100 frames parked in a recv the kernel still holds
}

TEST_CASE("io_uring: ring sizes that are not a power of two from 2 to 32768 are refused with "
          "invalid_argument") {
    for (std::uint32_t n : {1u, 3u, 1000u, 65536u}) {
        corio::runtime_options o;
        o.backend_options.io_uring_entries = n;
        auto rt = corio::runtime::create(std::move(o));
        INFO("entries " << n);
        REQUIRE_FALSE(rt);
        CHECK(rt.error() == std::errc::invalid_argument);
    }
    corio::runtime_options ok;
    ok.backend_options.io_uring_entries = 2;
    CHECK(corio::runtime::create(std::move(ok)));
}
