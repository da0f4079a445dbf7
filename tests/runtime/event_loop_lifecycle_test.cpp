// SPDX-License-Identifier: MIT
// Tests for corio/event_loop.hpp: a stop() that comes before run() is not lost, and a removed
// handler is released at once outside a dispatch.
#include <corio/event_loop.hpp>

#include <catch2/catch.hpp>

#include "support/event_loop_util.hpp"
#include "support/socket_pair.hpp"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace {

using namespace std::chrono_literals;

// Calls stop() again if run() has not returned within a generous time, so a broken loop fails
// the test instead of hanging it; `fired()` says whether it had to.
class watchdog {
public:
    explicit watchdog(corio::event_loop& loop)
        : thread_([this, &loop] {
              std::unique_lock lock(mutex_);
              if (!cv_.wait_for(lock, 5s, [this] { return done_; })) {
                  fired_ = true;
                  loop.stop();
              }
          }) {}
    ~watchdog() { finish(); }

    /// Call once run() has returned; says whether the watchdog had to stop it.
    bool finish() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable()) {
            thread_.join();
        }
        return fired_;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    bool fired_ = false;
    std::thread thread_;
};

TEST_CASE("stop() before run() makes run() return at once") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    int calls = 0;
    REQUIRE(loop.add(pair.fd(0), corio::interest::read, [&](int fd, corio::readiness) {
        ++calls;
        CHECK(corio_test::recv_text(fd) == "ping");
        loop.stop();
    }));
    loop.stop();
    loop.stop();  // requests before a run() are one request
    {
        watchdog guard(loop);
        REQUIRE(loop.run());
        CHECK_FALSE(guard.finish());
    }
    CHECK(calls == 0);

    // That run() used the request up: the next one runs until its own stop().
    REQUIRE(corio_test::send_text(pair.fd(1), "ping") == 4);
    {
        watchdog guard(loop);
        REQUIRE(loop.run());
        CHECK_FALSE(guard.finish());
    }
    CHECK(calls == 1);
}

TEST_CASE("stop() from another thread ends run() whether it comes before or during run()") {
    corio::event_loop loop = corio_test::open_event_loop();
    for (int round = 0; round < 20; ++round) {
        watchdog guard(loop);
        std::thread stopper([&] { loop.stop(); });
        REQUIRE(loop.run());
        stopper.join();
        REQUIRE_FALSE(guard.finish());
    }
}

TEST_CASE("stop() from a handler during run_once() makes the next run() return at once") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    REQUIRE(loop.add(pair.fd(0), corio::interest::read, [&](int fd, corio::readiness) {
        (void)corio_test::recv_text(fd);
        loop.stop();
    }));
    REQUIRE(corio_test::send_text(pair.fd(1), "x") == 1);
    auto n = loop.run_once(2s);
    REQUIRE(n);
    CHECK(*n == 1);
    watchdog guard(loop);
    REQUIRE(loop.run());
    CHECK_FALSE(guard.finish());
}

TEST_CASE("remove() outside a dispatch releases the handler at once") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    auto state = std::make_shared<int>(0);
    for (int round = 0; round < 1000; ++round) {
        REQUIRE(loop.add(pair.fd(0), corio::interest::read,
                         [state](int, corio::readiness) { ++*state; }));
        REQUIRE(state.use_count() == 2);
        REQUIRE(loop.remove(pair.fd(0)));
        REQUIRE(state.use_count() == 1);  // not kept until some later run_once()
    }
    CHECK(loop.size() == 0);
}

TEST_CASE("remove() inside a dispatch releases another descriptor's handler when it ends") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair first;
    corio_test::socket_pair second;
    auto state = std::make_shared<int>(0);
    std::weak_ptr<int> watch = state;
    REQUIRE(loop.add(second.fd(0), corio::interest::read,
                     [state](int, corio::readiness) { ++*state; }));
    state.reset();
    long during = -1;
    REQUIRE(loop.add(first.fd(0), corio::interest::read, [&](int fd, corio::readiness) {
        (void)corio_test::recv_text(fd);
        CHECK(loop.remove(second.fd(0)));
        during = watch.use_count();
    }));
    REQUIRE(corio_test::send_text(first.fd(1), "x") == 1);
    auto n = loop.run_once(2s);
    REQUIRE(n);
    CHECK(*n == 1);
    CHECK(during == 1);  // kept while a handler runs: it might have been the one removed
    CHECK(watch.expired());  // and released when the dispatch ended
    CHECK(loop.remove(first.fd(0)));
}

}  // namespace
