// SPDX-License-Identifier: MIT
// The programs docs/sync.md shows, compiled and run: a job pipeline and a request/reply.
#include <corio/channel.hpp>

#include <catch2/catch.hpp>

#include <corio/latch.hpp>
#include <corio/mutex.hpp>
#include <corio/oneshot.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <utility>

namespace {

// docs/sync.md, "A pipeline": workers take jobs from a channel and add them up under a mutex.
corio::task<void> worker(corio::channel<int>& jobs, corio::mutex& m, long& total,
                         corio::latch& done) {
    for (;;) {
        auto job = co_await jobs.recv();
        if (!job) {
            break;  // errc::closed: closed and drained
        }
        auto guard = co_await m.lock();
        total += *job;
    }  // guard unlocks here, each round
    done.count_down();
}

corio::task<long> run_pipeline() {
    corio::channel<int> jobs(8);
    corio::mutex m;
    corio::latch done(3);
    long total = 0;
    for (int i = 0; i < 3; ++i) {
        corio::spawn(worker(jobs, m, total, done));
    }
    for (int job = 1; job <= 100; ++job) {
        if (auto sent = co_await jobs.send(int{job}); !sent) {
            co_return -1;
        }
    }
    jobs.close();  // workers drain what is queued, then see errc::closed
    (void)co_await done.wait();
    co_return total;
}

// docs/sync.md, "Request and reply": a oneshot carries one answer back.
corio::task<void> answer(corio::oneshot<int>::sender reply) {
    (void)reply.send(42);  // errc::closed if the asker is gone
    co_return;
}

corio::task<int> ask() {
    auto [tx, rx] = corio::oneshot<int>::make();
    corio::spawn(answer(std::move(tx)));
    auto r = co_await rx.recv();
    co_return r.value_or(-1);
}

TEST_CASE("docs/sync.md: the pipeline adds every job once; the oneshot brings the answer") {
    corio::runtime rt;
    CHECK(rt.block_on(run_pipeline()) == 5050);
    CHECK(rt.block_on(ask()) == 42);
}

}  // namespace
