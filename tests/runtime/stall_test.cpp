// SPDX-License-Identifier: MIT
// Tests for the stall detector: a loop busy in one task past runtime_options::stall_threshold
// is reported once, naming where the task was spawned; a loop that keeps turning is not.
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include <corio/task.hpp>
#include <corio/timer.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct collected {
    std::mutex mutex;
    std::vector<corio::stall_report> reports;
    std::vector<corio::stall_report> take() {
        std::lock_guard lock(mutex);
        return reports;
    }
};

corio::runtime_options watched(collected& out, unsigned threads = 1) {
    corio::runtime_options o;
    o.threads = threads;
    o.stall_threshold = 50ms;
    o.on_stall = [&out](const corio::stall_report& r) {
        std::lock_guard lock(out.mutex);
        out.reports.push_back(r);
    };
    return o;
}

// Busy-waits on the clock without ever returning to the loop: what the detector is for.
corio::task<void> busy_for(std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
    }
    co_return;
}

}  // namespace

TEST_CASE("a task busy 300 ms past a 50 ms threshold is reported once", "[stall]") {
    collected out;
    unsigned line = 0;
    {
        corio::runtime rt(watched(out));
        auto body = [&]() -> corio::task<void> {
            corio::spawn(busy_for(300ms)); line = __LINE__;
            co_await corio::yield();  // the busy task runs (and ends) before this resumes
            // Turns after the stall: none of them is a new stall.
            for (int i = 0; i < 3; ++i) {
                (void)co_await corio::sleep_for(1ms);
            }
        };
        rt.block_on(body());
    }  // joins the watchdog: every report it made is in
    const auto reports = out.take();
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].loop == 0);
    CHECK(reports[0].stalled_for >= 50ms);
    CHECK(reports[0].spawned_at.line() == line);
    CHECK(std::string_view(reports[0].spawned_at.file_name()).ends_with("stall_test.cpp"));
    const std::string text = reports[0].to_string();
    CHECK(text.starts_with("corio: loop 0 stalled for "));
    CHECK(text.find("stall_test.cpp:" + std::to_string(line)) != std::string::npos);
}

TEST_CASE("a stall on loop 1 names loop 1; two stalls are two reports", "[stall]") {
    collected out;
    unsigned line = 0;
    {
        corio::runtime rt(watched(out, 2));
        auto body = [&]() -> corio::task<void> {
            rt.spawn_on(1, busy_for(300ms)); line = __LINE__;
            co_await busy_for(300ms);  // loop 0 stalls too, in the block_on task
        };
        rt.block_on(body());
        rt.block_on(busy_for(300ms));  // a second stall of loop 0: reported again
    }
    auto reports = out.take();
    REQUIRE(reports.size() == 3);
    const auto on_one = std::count_if(reports.begin(), reports.end(),
                                      [](const corio::stall_report& r) { return r.loop == 1; });
    CHECK(on_one == 1);
    for (const auto& r : reports) {
        CHECK(r.stalled_for >= 50ms);
        if (r.loop == 1) {
            CHECK(r.spawned_at.line() == line);
        }
    }
}

TEST_CASE("a loop that keeps returning to its reactor is never reported", "[stall]") {
    collected out;
    {
        corio::runtime rt(watched(out));
        auto body = [&]() -> corio::task<void> {
            // Work in slices far below the threshold, waiting in the reactor in between.
            for (int i = 0; i < 30; ++i) {
                co_await busy_for(1ms);
                (void)co_await corio::sleep_for(5ms);
            }
        };
        rt.block_on(body());
    }
    CHECK(out.take().empty());
}

TEST_CASE("stall_threshold zero starts no detector", "[stall]") {
    collected out;
    {
        corio::runtime_options o = watched(out);
        o.stall_threshold = 0ms;
        corio::runtime rt(std::move(o));
        rt.block_on(busy_for(120ms));
    }
    CHECK(out.take().empty());
}

namespace {
corio::task<void> spawner_coroutine(unsigned& line) {
    corio::spawn(busy_for(0ms)); line = __LINE__;
    co_return;
}
}  // namespace

TEST_CASE("a report names a coroutine spawner readably", "[stall]") {
    // g++ names a coroutine body "void f(f(args)::_Z....Frame*)": the report shows f(args).
    corio::runtime_options o;
    o.stall_threshold = 0ms;
    corio::runtime rt(std::move(o));
    unsigned line = 0;
    rt.block_on(spawner_coroutine(line));
    const corio::task_dump d = rt.dump_tasks();
    REQUIRE(d.tasks.size() == 1);
    const corio::stall_report r{0, 60ms, d.tasks[0].spawned_at};
    const std::string text = r.to_string();
    CHECK(text.find("stall_test.cpp:" + std::to_string(line) + " (") != std::string::npos);
    CHECK(text.find("Frame") == std::string::npos);
    CHECK(text.find("spawner_coroutine(") != std::string::npos);
}
