// SPDX-License-Identifier: MIT
// Tests for corio/detail/blocking_pool.hpp: threads on demand up to the bound, FIFO order,
// abandon() in each phase, idle threads exiting, the destructor, and the threads' setup.
#include <corio/detail/blocking_pool.hpp>

#include <catch2/catch.hpp>

#include "support/blocking_gate.hpp"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace {

using corio::detail::blocking_phase;
using corio::detail::blocking_pool;
using corio_test::blocking_gate;

class test_job final : public corio::detail::blocking_job {
public:
    explicit test_job(std::function<void()> fn) : fn_(std::move(fn)) {}

private:
    void run() noexcept override { fn_(); }
    std::function<void()> fn_;
};

// The test's own reference to a job (the one an awaiter would hold).
struct unref_job {
    void operator()(test_job* j) const noexcept { j->unref(); }
};
using job_ref = std::unique_ptr<test_job, unref_job>;

job_ref submit(blocking_pool& pool, std::function<void()> fn) {
    job_ref job(new test_job(std::move(fn)));
    REQUIRE_FALSE(pool.submit(*job, nullptr));
    return job;
}

TEST_CASE("blocking_pool starts threads on demand, never more than max_threads") {
    blocking_gate entered, gate, done;  // declared first: they outlive the pool's threads
    blocking_pool pool(2);
    CHECK(pool.max_threads() == 2);
    CHECK(pool.thread_count() == 0);
    auto blocked = [&] {
        entered.add(1);
        (void)gate.wait();
        done.add(1);
    };
    auto a = submit(pool, blocked);
    REQUIRE(entered.wait(1));
    CHECK(pool.thread_count() == 1);
    auto b = submit(pool, blocked);
    REQUIRE(entered.wait(2));
    CHECK(pool.thread_count() == 2);
    auto c = submit(pool, blocked);  // queued: both threads are busy
    CHECK(pool.thread_count() == 2);
    gate.open();
    REQUIRE(done.wait(3));
    CHECK(pool.threads_started() == 2);
    CHECK(blocking_pool(0).max_threads() == 1);
}

TEST_CASE("blocking_pool runs queued jobs in the order they were submitted") {
    blocking_gate gate, done;
    std::mutex m;
    std::vector<int> order;
    blocking_pool pool(1);
    auto first = submit(pool, [&] { (void)gate.wait(); });
    std::vector<job_ref> jobs;
    for (int i = 1; i <= 5; ++i) {
        jobs.push_back(submit(pool, [&, i] {
            std::lock_guard lock(m);
            order.push_back(i);
            done.add(1);
        }));
    }
    gate.open();
    REQUIRE(done.wait(5));
    std::lock_guard lock(m);
    CHECK(order == std::vector<int>{1, 2, 3, 4, 5});
}

TEST_CASE("blocking_pool::abandon removes a queued job and reports running and finished ones") {
    blocking_gate entered, gate, done;
    std::atomic<int> queued_ran{0};
    blocking_pool pool(1);
    auto running = submit(pool, [&] {
        entered.open();
        (void)gate.wait();
    });
    auto queued = submit(pool, [&] { ++queued_ran; });
    REQUIRE(entered.wait());
    CHECK(pool.abandon(*queued) == blocking_phase::queued);
    CHECK(pool.abandon(*running) == blocking_phase::running);
    gate.open();
    auto later = submit(pool, [&] { done.add(1); });
    // One thread, FIFO: once the next job ran, `later` was finished and handed back.
    auto next = submit(pool, [&] { done.add(1); });
    REQUIRE(done.wait(2));
    CHECK(pool.abandon(*later) == blocking_phase::finished);
    CHECK(queued_ran.load() == 0);
}

TEST_CASE("blocking_pool threads exit after the idle timeout; a later job starts a new one") {
    blocking_gate done;
    blocking_pool pool(1, std::chrono::milliseconds(1));
    auto a = submit(pool, [&] { done.add(1); });
    REQUIRE(done.wait(1));
    // Waits for the idle thread to leave, up to the bound; passing runs take about 1 ms.
    const auto give_up = std::chrono::steady_clock::now() + blocking_gate::bound;
    while (pool.thread_count() != 0 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::yield();
    }
    REQUIRE(pool.thread_count() == 0);
    auto b = submit(pool, [&] { done.add(1); });
    REQUIRE(done.wait(2));
    CHECK(pool.threads_started() == 2);
}

// Opens a gate when destroyed: shared by a job's callable, it tells when that is destroyed.
struct opens_on_destroy {
    blocking_gate& gate;
    ~opens_on_destroy() { gate.open(); }
};

TEST_CASE("destroying blocking_pool drops queued jobs, lets running ones finish, joins") {
    blocking_gate entered, gate;
    bool running_finished = false, queued_ran = false;
    {
        blocking_pool pool(1);
        auto running = submit(pool, [&] {
            entered.open();
            running_finished = gate.wait();
        });
        {
            // The only reference left is the pool's: dropping the job destroys its callable,
            // whose copy of the guard opens the gate the running job waits at.
            auto guard = std::make_shared<opens_on_destroy>(gate);
            auto queued = submit(pool, [&queued_ran, guard] { queued_ran = true; });
        }
        REQUIRE(entered.wait());
    }
    CHECK(running_finished);
    CHECK_FALSE(queued_ran);
    CHECK(gate.count() == 1);
}

TEST_CASE("blocking_pool threads are named corio-blocking and block asynchronous signals") {
    sigset_t before, after;
    pthread_sigmask(SIG_BLOCK, nullptr, &before);
    blocking_gate done;
    char name[16] = {};
    bool int_blocked = false, pipe_blocked = false, segv_blocked = true;
    blocking_pool pool(1);
    auto job = submit(pool, [&] {
        pthread_getname_np(pthread_self(), name, sizeof name);
        sigset_t mask;
        pthread_sigmask(SIG_BLOCK, nullptr, &mask);
        int_blocked = sigismember(&mask, SIGINT) == 1;
        pipe_blocked = sigismember(&mask, SIGPIPE) == 1;
        segv_blocked = sigismember(&mask, SIGSEGV) == 1;
        done.open();
    });
    REQUIRE(done.wait());
    pthread_sigmask(SIG_BLOCK, nullptr, &after);
    CHECK(std::strcmp(name, "corio-blocking") == 0);
    CHECK(int_blocked);
    CHECK(pipe_blocked);
    CHECK_FALSE(segv_blocked);
    CHECK(sigismember(&after, SIGINT) == sigismember(&before, SIGINT));  // the caller's is back
}

}  // namespace
