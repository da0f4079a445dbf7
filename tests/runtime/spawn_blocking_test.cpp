// SPDX-License-Identifier: MIT
// Tests for corio/spawn_blocking.hpp: values and exceptions, the loop running meanwhile, the
// pool's bound, the task resuming on its own loop, the docs' snippets. Cancellation and
// teardown: spawn_blocking_cancel_test.cpp.
#include <corio/spawn_blocking.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/result.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include "support/blocking_gate.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio_test::blocking_gate;
using corio_test::tracked;

static_assert(std::is_same_v<decltype(corio::spawn_blocking(std::declval<int (*)()>())),
                             corio::task<corio::result<int>>>);
static_assert(std::is_same_v<decltype(corio::spawn_blocking(std::declval<void (*)()>())),
                             corio::task<corio::result<void>>>);
static_assert(
    std::is_same_v<decltype(corio::spawn_blocking(std::declval<corio::result<int> (*)()>())),
                   corio::task<corio::result<int>>>);

struct call_site {
    std::thread::id before, in_fn, after;
    int value = 0;
};

corio::task<call_site> answer_off_the_loop() {
    call_site site;
    site.before = std::this_thread::get_id();
    auto fn = [&site] {
        site.in_fn = std::this_thread::get_id();
        return 42;
    };
    corio::result<int> r = co_await corio::spawn_blocking(fn);
    site.after = std::this_thread::get_id();
    site.value = r.value_or(-1);
    co_return site;
}

TEST_CASE("spawn_blocking runs fn on a pool thread and resumes the task on its loop with the "
          "value") {
    corio::runtime rt;
    const call_site site = rt.block_on(answer_off_the_loop());
    CHECK(site.value == 42);
    CHECK(site.before == std::this_thread::get_id());
    CHECK(site.after == site.before);
    CHECK(site.in_fn != site.before);
}

corio::task<std::string> what_fn_threw() {
    auto fn = []() -> int { throw std::runtime_error("disk on fire"); };
    try {
        (void)co_await corio::spawn_blocking(fn);
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "nothing was thrown";
}

corio::task<std::string> results_of_every_kind() {
    auto owned = std::make_unique<int>(7);
    auto bump = [p = std::move(owned)]() mutable {
        *p += 1;
        return std::move(p);
    };
    corio::result<std::unique_ptr<int>> moved = co_await corio::spawn_blocking(std::move(bump));
    bool ran = false;
    auto set = [&ran] { ran = true; };
    corio::result<void> done = co_await corio::spawn_blocking(set);
    auto fail = [] { return corio::result<int>(std::errc::no_such_file_or_directory); };
    corio::result<int> failed = co_await corio::spawn_blocking(fail);
    if (!moved || !*moved || **moved != 8) {
        co_return "unique_ptr lost";
    }
    if (!done || !ran) {
        co_return "void call did not run";
    }
    if (failed.error() != std::errc::no_such_file_or_directory) {
        co_return "result<int> error lost: " + failed.error().message();
    }
    co_return "ok";
}

TEST_CASE("spawn_blocking rethrows fn's exception and carries move-only, void and result "
          "returns") {
    corio::runtime rt;
    CHECK(rt.block_on(what_fn_threw()) == "disk on fire");
    CHECK(rt.block_on(results_of_every_kind()) == "ok");
}

corio::task<void> tick_then_open(std::atomic<int>& ticks, blocking_gate& gate) {
    for (int i = 0; i < 5; ++i) {
        (void)co_await corio::sleep_for(1ms);
        ticks.fetch_add(1);
    }
    gate.open();
}

corio::task<int> ticks_seen_by_blocked_call() {
    std::atomic<int> ticks{0};
    blocking_gate gate;
    corio::spawn(tick_then_open(ticks, gate));
    auto fn = [&] { return gate.wait() ? ticks.load() : -1; };
    corio::result<int> r = co_await corio::spawn_blocking(fn);
    co_return r.value_or(-2);
}

TEST_CASE("the loop keeps running timers and tasks while fn blocks") {
    corio::runtime rt;
    // fn returns only once a task on the loop has seen five timer ticks and opened its gate.
    CHECK(rt.block_on(ticks_seen_by_blocked_call()) == 5);
}

struct crowd {
    static constexpr int calls = 12;
    std::atomic<int> running{0};
    std::atomic<int> peak{0};
    blocking_gate arrived;
    std::vector<int> got = std::vector<int>(calls, -3);
    int done = 0;
    corio::event all_done;

    int enter(int i) {
        const int now = running.fetch_add(1) + 1;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        arrived.add(1);
        const bool met = arrived.wait(3);  // the first three meet: three ran at once
        running.fetch_sub(1);
        return met ? i : -1;
    }
};

corio::task<void> one_of_crowd(crowd& c, int i) {
    auto fn = [&c, i] { return c.enter(i); };
    corio::result<int> r = co_await corio::spawn_blocking(fn);
    c.got[static_cast<std::size_t>(i)] = r.value_or(-2);
    if (++c.done == crowd::calls) {
        c.all_done.set();
    }
}

corio::task<std::size_t> run_crowd(crowd& c) {
    for (int i = 0; i < crowd::calls; ++i) {
        corio::spawn(one_of_crowd(c, i));
    }
    (void)co_await c.all_done.wait();
    co_return corio::detail::scheduler::current()->blocking()->threads_started();
}

TEST_CASE("at most blocking_threads calls run at once; the rest queue and all complete") {
    corio::runtime rt(corio_test::with_blocking_threads(3));
    crowd c;
    CHECK(rt.block_on(run_crowd(c)) == 3);
    CHECK(c.peak.load() == 3);
    for (int i = 0; i < crowd::calls; ++i) {
        CHECK(c.got[static_cast<std::size_t>(i)] == i);
    }
}


corio::task<bool> resumes_on_own_thread() {
    const auto loop = std::this_thread::get_id();
    auto fn = [] { return std::this_thread::get_id(); };
    corio::result<std::thread::id> pool = co_await corio::spawn_blocking(fn);
    co_return pool && *pool != loop && std::this_thread::get_id() == loop;
}

TEST_CASE("calls from two runtimes on two threads each resume on their own loop") {
    bool ok[2] = {false, false};
    // Both runtimes live until both threads are done: io_uring maps its rings with raw system
    // calls, so TSan would take a ring mapped where the other thread's freed one was for a race.
    std::latch both_done(2);
    auto run = [&both_done](bool& result) {
        corio::runtime rt;
        result = rt.block_on(resumes_on_own_thread());
        both_done.arrive_and_wait();
    };
    std::thread a(run, std::ref(ok[0]));
    std::thread b(run, std::ref(ok[1]));
    a.join();
    b.join();
    CHECK(ok[0]);
    CHECK(ok[1]);
}

// docs/blocking.md, first snippet.
corio::task<corio::result<std::string>> read_file(std::string path) {
    auto read = [path = std::move(path)]() -> corio::result<std::string> {
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            return std::errc::no_such_file_or_directory;
        }
        std::ostringstream text;
        text << in.rdbuf();
        return std::move(text).str();
    };
    co_return co_await corio::spawn_blocking(std::move(read));
}

// docs/blocking.md, "Cancellation".
corio::task<corio::result<long>> sum_with_deadline(std::vector<int> numbers) {
    auto sum = [numbers = std::move(numbers)] {
        return std::accumulate(numbers.begin(), numbers.end(), 0L);
    };
    co_return co_await corio::with_timeout(100ms, corio::spawn_blocking(std::move(sum)));
}

TEST_CASE("the docs/blocking.md snippets read a file and sum under a deadline") {
    const auto path = std::filesystem::temp_directory_path() /
                      ("corio_blocking_doc_" + std::to_string(::getpid()));
    std::ofstream(path) << "hello from a file";
    corio::runtime_options options;  // docs/blocking.md, "The pool"
    options.blocking_threads = 8;    // default 64; 0 counts as 1
    corio::runtime rt(options);
    corio::result<std::string> text = rt.block_on(read_file(path.string()));
    std::filesystem::remove(path);
    corio::result<std::string> missing = rt.block_on(read_file(path.string()));
    corio::result<long> sum = rt.block_on(sum_with_deadline({1, 2, 3, 4}));
    CHECK(text.value_or("") == "hello from a file");
    CHECK(missing.error() == std::errc::no_such_file_or_directory);
    CHECK(sum.value_or(0) == 10);
}

TEST_CASE("spawn_blocking outside a runtime throws usage_error from the await") {
    auto t = corio::spawn_blocking([] { return 1; });
    auto h = t.handle();
    h.resume();  // runs up to the co_await, which throws: the task ends holding the exception
    REQUIRE(h.done());
    CHECK_THROWS_AS(h.promise().take_result(), corio::usage_error);
}

}  // namespace
