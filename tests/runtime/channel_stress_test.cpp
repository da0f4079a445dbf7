// SPDX-License-Identifier: MIT
// Stress tests for corio/channel.hpp across two loops: checksums, cancellation races.
#include <corio/channel.hpp>

#include <catch2/catch.hpp>

#include <corio/latch.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/loop_thread.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <stop_token>
#include <system_error>
#include <thread>
#include <vector>

namespace {

constexpr int producers = 4;
constexpr int per_producer = 2'500;
constexpr int total = producers * per_producer;

corio::task<void> produce(corio::channel<int>& ch, int p, std::atomic<int>& producing,
                          corio::latch& done) {
    for (int i = 0; i < per_producer; ++i) {
        auto r = co_await ch.send(p * per_producer + i);
        if (!r) {
            break;  // seen by the test as a missing item
        }
    }
    if (producing.fetch_sub(1) == 1) {
        ch.close();  // the last producer out, on whichever loop
    }
    done.count_down();
}

corio::task<void> consume(corio::channel<int>& ch, std::vector<int>& got, corio::latch& done) {
    for (;;) {
        auto r = co_await ch.recv();
        if (!r) {
            break;
        }
        got.push_back(*r);
    }
    done.count_down();
}

// Producers and consumers alternate between the two loops: two of each on each.
corio::task<void> spread_over_both_loops(corio::channel<int>& ch, std::atomic<int>& producing,
                                         std::vector<std::vector<int>>& got) {
    corio::latch done(producers + static_cast<std::ptrdiff_t>(got.size()));
    for (int p = 0; p < producers; ++p) {
        corio::spawn_on(static_cast<unsigned>(p % 2), produce(ch, p, producing, done));
    }
    for (std::size_t c = 0; c < got.size(); ++c) {
        corio::spawn_on(static_cast<unsigned>(c % 2), consume(ch, got[c], done));
    }
    (void)co_await done.wait();
}

TEST_CASE("4 producers and 4 consumers on two loops of one runtime: every item arrives once") {
    corio::channel<int> ch(16);
    std::atomic<int> producing{producers};
    std::vector<std::vector<int>> got(4);
    {
        corio::runtime_options two_loops;  // g++ 12 -Wextra rejects {.threads = 2}
        two_loops.threads = 2;
        corio::runtime rt(two_loops);
        rt.block_on(spread_over_both_loops(ch, producing, got));
    }
    std::vector<int> all;
    std::int64_t sum = 0;
    int xor_all = 0;
    for (const auto& g : got) {
        for (std::size_t i = 1; i < g.size(); ++i) {
            // A consumer sees each producer's items in the order they were sent.
            if (g[i] / per_producer == g[i - 1] / per_producer) {
                REQUIRE(g[i] > g[i - 1]);
            }
        }
        for (int v : g) {
            sum += v;
            xor_all ^= v;
        }
        all.insert(all.end(), g.begin(), g.end());
    }
    int expected_xor = 0;
    for (int v = 0; v < total; ++v) {
        expected_xor ^= v;
    }
    CHECK(sum == std::int64_t{total} * (total - 1) / 2);
    CHECK(xor_all == expected_xor);
    REQUIRE(all.size() == total);
    std::sort(all.begin(), all.end());
    std::vector<int> expected(total);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(all == expected);
}

constexpr int rounds = 2'000;

// Sends 0..rounds-1 in order, stopping the receiver's round-k token just after item k.
corio::task<void> send_and_stop(corio::channel<int>& ch, std::vector<std::stop_source>& stops) {
    for (int k = 0; k < rounds; ++k) {
        (void)co_await ch.send(int{k});
        stops[k].request_stop();
    }
    ch.close();
}

corio::task<void> drain(corio::channel<int>& ch, std::vector<int>& got) {
    for (;;) {
        auto r = co_await ch.recv();
        if (!r) {
            break;
        }
        got.push_back(*r);
    }
}

corio::task<void> recv_with_stops(corio::channel<int>& ch, std::vector<std::stop_source>& stops,
                                  std::vector<int>& got, int& cancelled) {
    for (int k = 0; k < rounds; ++k) {
        auto r = co_await ch.recv(stops[k].get_token());
        if (r) {
            got.push_back(*r);
        } else {
            ++cancelled;
        }
    }
    co_await drain(ch, got);  // what the cancelled rounds left behind
}

TEST_CASE("recvs cancelled from another loop while items arrive consume nothing") {
    corio::channel<int> ch(1);
    std::vector<std::stop_source> stops(rounds);
    std::vector<int> got;
    int cancelled = 0;
    {
        corio::runtime rt;  // before the loop_thread: see loop_thread.hpp
        corio_test::loop_thread other(send_and_stop(ch, stops));
        rt.block_on(recv_with_stops(ch, stops, got, cancelled));
    }
    INFO("cancelled recvs: " << cancelled);
    std::vector<int> expected(rounds);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(got == expected);  // nothing lost, nothing twice, in order
}

corio::task<void> send_with_stops(corio::channel<int>& ch, std::vector<std::stop_source>& stops,
                                  std::vector<int>& sent) {
    for (int k = 0; k < rounds; ++k) {
        auto r = co_await ch.send(int{k}, stops[k].get_token());
        if (r) {
            sent.push_back(k);
        }
    }
    ch.close();
}

TEST_CASE("sends cancelled from another thread while a receiver drains enqueue nothing") {
    corio::channel<int> ch(0);
    std::vector<std::stop_source> stops(rounds);
    std::vector<int> sent;
    std::vector<int> got;
    {
        corio::runtime rt;  // before the loop_thread: see loop_thread.hpp
        corio_test::loop_thread receiver(drain(ch, got));
        std::thread stopper([&] {
            for (auto& s : stops) {
                s.request_stop();
            }
        });
        rt.block_on(send_with_stops(ch, stops, sent));
        stopper.join();
    }
    INFO("sent: " << sent.size() << " of " << rounds);
    CHECK(got == sent);  // a cancelled send never arrives; a completed one arrives once
}

}  // namespace
