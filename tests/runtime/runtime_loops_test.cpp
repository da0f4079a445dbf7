// SPDX-License-Identifier: MIT
// Tests for a runtime of several loops: spawn_on, where tasks run, stop from any loop, teardown,
// and an io_handle staying on the loop that first waited on it.
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include <corio/error.hpp>
#include <corio/event.hpp>
#include <corio/io_handle.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include "support/socket_pair.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

corio::runtime_options loops(unsigned n) {
    corio::runtime_options options;
    options.threads = n;
    return options;
}

// Frames may be destroyed on any loop's thread, so the count is atomic.
struct live_frame {
    std::atomic<int>* live;
    explicit live_frame(std::atomic<int>& l) : live(&l) { live->fetch_add(1); }
    live_frame(const live_frame&) = delete;
    live_frame& operator=(const live_frame&) = delete;
    ~live_frame() { live->fetch_sub(1); }
};

struct where {
    unsigned loop = 99;
    std::thread::id thread;
};

// Runs on loop 0: records one arrival, and sets `all_in` once `expected` have arrived.
corio::task<void> arrive(corio::event& all_in, int& arrived, int expected) {
    if (++arrived == expected) {
        all_in.set();
    }
    co_return;
}

corio::task<void> report_where(where& out, corio::event& all_in, int& arrived, int expected) {
    out = {corio::current_loop(), std::this_thread::get_id()};
    corio::spawn_on(0, arrive(all_in, arrived, expected));  // back to loop 0, which owns `all_in`
    co_return;
}

corio::task<void> visit_every_loop(std::array<where, 4>& seen) {
    corio::event all_in;
    int arrived = 0;
    for (unsigned i = 0; i < seen.size(); ++i) {
        corio::spawn_on(i, report_where(seen[i], all_in, arrived, 4));
    }
    (void)co_await all_in.wait();
}

TEST_CASE("spawn_on runs a task on the loop it names, each loop on its own thread") {
    corio::runtime rt(loops(4));
    CHECK(rt.threads() == 4);
    std::array<where, 4> seen{};
    rt.block_on(visit_every_loop(seen));
    for (unsigned i = 0; i < seen.size(); ++i) {
        CHECK(seen[i].loop == i);
        for (unsigned j = 0; j < i; ++j) {
            CHECK(seen[i].thread != seen[j].thread);
        }
    }
    CHECK(seen[0].thread == std::this_thread::get_id());  // block_on drives loop 0
}

corio::task<void> hop(unsigned left, unsigned loops, std::vector<unsigned>& path, corio::event& done) {
    path.push_back(corio::current_loop());  // one task at a time touches `path`: they hop
    if (left == 0) {
        corio::spawn_on(0, [](corio::event& d) -> corio::task<void> {
            d.set();
            co_return;
        }(done));
        co_return;
    }
    corio::spawn_on((corio::current_loop() + 1) % loops, hop(left - 1, loops, path, done));
}

TEST_CASE("a chain of tasks handed from loop to loop visits them in order") {
    corio::runtime rt(loops(3));
    std::vector<unsigned> path;
    rt.block_on([](std::vector<unsigned>& p) -> corio::task<void> {
        corio::event done;
        corio::spawn_on(1, hop(300, 3, p, done));
        (void)co_await done.wait();
    }(path));
    REQUIRE(path.size() == 301);
    for (std::size_t i = 0; i < path.size(); ++i) {
        CHECK(path[i] == (1 + i) % 3);
    }
}

TEST_CASE("runtime::spawn_on from a plain thread before block_on runs the task there") {
    corio::runtime rt(loops(2));
    std::atomic<unsigned> ran_on{99};
    std::thread outsider([&] {
        rt.spawn_on(1, [](std::atomic<unsigned>& out) -> corio::task<void> {
            out = corio::current_loop();
            co_return;
        }(ran_on));
    });
    outsider.join();
    // Loop 1 runs on its own; wait for it from loop 0 without sleeping on the test thread.
    rt.block_on([](std::atomic<unsigned>& out) -> corio::task<void> {
        while (out.load() == 99) {
            co_await corio::yield();
        }
    }(ran_on));
    CHECK(ran_on.load() == 1);
}

corio::task<void> stop_from_loop_1(corio::runtime& rt) {
    rt.stop();
    co_return;
}

corio::task<void> wait_forever() {
    corio::event never;
    (void)co_await never.wait();
}

TEST_CASE("stop() called on another loop ends block_on, and the loops start again after") {
    corio::runtime rt(loops(2));
    rt.spawn_on(1, stop_from_loop_1(rt));
    try {
        rt.block_on(wait_forever());
        FAIL("block_on returned though stop() was called");
    } catch (const std::system_error& e) {
        CHECK(e.code() == std::errc::operation_canceled);
    }
    // Loop 1 was stopped too; the next block_on starts it again, so this hand-off arrives.
    std::atomic<unsigned> ran_on{99};
    rt.spawn_on(1, [](std::atomic<unsigned>& out) -> corio::task<void> {
        out = corio::current_loop();
        co_return;
    }(ran_on));
    rt.block_on([](std::atomic<unsigned>& out) -> corio::task<void> {
        while (out.load() == 99) {
            co_await corio::yield();
        }
    }(ran_on));
    CHECK(ran_on.load() == 1);
}

corio::task<void> park_on(unsigned, std::atomic<int>& live, std::atomic<int>& parked) {
    live_frame alive(live);
    corio::event never;
    parked.fetch_add(1);
    (void)co_await never.wait();
}

TEST_CASE("destroying a runtime destroys the suspended tasks of every loop") {
    std::atomic<int> live{0};
    std::atomic<int> parked{0};
    {
        corio::runtime rt(loops(3));
        for (unsigned i = 0; i < 3; ++i) {
            for (int k = 0; k < 10; ++k) {
                rt.spawn_on(i, park_on(i, live, parked));
            }
        }
        rt.block_on([](std::atomic<int>& p) -> corio::task<void> {
            while (p.load() < 30) {
                co_await corio::yield();
            }
        }(parked));
        CHECK(live.load() == 30);
        // Handed over but never taken by a loop: destroyed unrun with the runtime.
        rt.stop();
        rt.spawn_on(2, park_on(2, live, parked));
    }
    CHECK(live.load() == 0);
}

TEST_CASE("spawn_on to a loop that does not exist is a usage_error, and the task is destroyed") {
    corio::runtime rt(loops(2));
    std::atomic<int> live{0};
    std::atomic<int> parked{0};
    CHECK_THROWS_AS(rt.spawn_on(2, park_on(2, live, parked)), corio::usage_error);
    CHECK(live.load() == 0);
    CHECK_THROWS_AS(rt.block_on([](std::atomic<int>& l, std::atomic<int>& p) -> corio::task<void> {
        corio::spawn_on(7, park_on(7, l, p));
        co_return;
    }(live, parked)),
                    corio::usage_error);
    CHECK(live.load() == 0);
}

TEST_CASE("a manual clock with more than one loop is refused") {
    corio::manual_clock clock;
    corio::runtime_options options = loops(2);
    options.clock = &clock;
    auto rt = corio::runtime::create(options);
    REQUIRE_FALSE(rt.has_value());
    CHECK(rt.error() == std::errc::invalid_argument);
}

corio::task<void> recv_once(corio::io_handle& h, std::atomic<int>& outcome) {
    std::array<std::byte, 8> buf{};
    try {
        (void)co_await h.recv(buf);
        outcome = 1;
    } catch (const corio::usage_error&) {
        outcome = 2;
    }
}

TEST_CASE("an io_handle waited on by one loop is a usage_error on another") {
    corio::runtime rt(loops(2));
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    std::atomic<int> outcome{0};
    rt.block_on([](corio::io_handle& handle, std::atomic<int>& out,
                   corio_test::socket_pair& p) -> corio::task<void> {
        std::array<std::byte, 8> buf{};
        // Registers the handle with loop 0 by waiting; the peer's byte then completes it.
        corio::spawn([](int fd) -> corio::task<void> {
            corio_test::send_text(fd, "x");
            co_return;
        }(p.fd(1)));
        (void)co_await handle.recv(buf);
        corio::spawn_on(1, recv_once(handle, out));
        while (out.load() == 0) {
            co_await corio::yield();
        }
    }(h, outcome, pair));
    CHECK(outcome.load() == 2);
}

}  // namespace
