// SPDX-License-Identifier: MIT
// Tests for corio/runtime.hpp across threads: a runtime built on one thread and run on others
// keeps its timers, I/O, queued work and wake-ups (io_uring gets a new ring per thread).
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include <corio/io_handle.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include "support/socket_pair.hpp"

#include <chrono>
#include <string>
#include <thread>

namespace {

corio::task<void> set_after_sleep(bool& flag) {
    (void)co_await corio::sleep_for(std::chrono::milliseconds(1));
    flag = true;
}

corio::task<std::string> sleep_then_echo(int fd, corio::io_handle& h) {
    const auto start = corio::clock_type::now();
    auto slept = co_await corio::sleep_for(std::chrono::milliseconds(2));
    if (!slept || corio::clock_type::now() - start < std::chrono::milliseconds(2)) {
        co_return "sleep did not wait";
    }
    if (corio_test::send_text(fd, "ping") != 4) {
        co_return "send failed";
    }
    std::byte buf[16];
    auto n = co_await h.recv(buf);
    if (!n) {
        co_return n.error().message();
    }
    co_return corio_test::as_string({buf, *n});
}

// The runtime's work, run on whichever thread calls it: a timer, I/O, a task spawned earlier.
std::string run_on_this_thread(corio::runtime& rt, corio_test::socket_pair& pair,
                               corio::io_handle& h, bool& spawned_ran) {
    std::string got = rt.block_on(sleep_then_echo(pair.fd(1), h));
    return got + (spawned_ran ? "+spawned" : "");
}

TEST_CASE("a runtime built on one thread runs on another: timers, I/O, spawned work and stop() "
          "from a third thread all still work") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    bool spawned_ran = false;
    rt.spawn(set_after_sleep(spawned_ran));  // queued before the move: must run there
    std::string first;
    std::thread([&] { first = run_on_this_thread(rt, pair, h, spawned_ran); }).join();
    INFO("backend " << rt.backend_name());
    CHECK(first == "ping+spawned");
    SECTION("and then on a third thread, after the second one is gone") {
        spawned_ran = false;
        rt.spawn(set_after_sleep(spawned_ran));
        std::string second;
        std::thread([&] { second = run_on_this_thread(rt, pair, h, spawned_ran); }).join();
        CHECK(second == "ping+spawned");
    }
    SECTION("and run() there stops when another thread calls stop()") {
        std::thread runner([&] { rt.run(); });
        rt.stop();  // a wake-up from this thread must reach the loop on the runner's
        runner.join();
        CHECK(first == "ping+spawned");
    }
}

}  // namespace
