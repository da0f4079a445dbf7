// SPDX-License-Identifier: MIT
// Uncontended fast paths of corio's synchronisation primitives, against std:: baselines.
#include <corio/channel.hpp>
#include <corio/mutex.hpp>
#include <corio/runtime.hpp>
#include <corio/semaphore.hpp>
#include <corio/task.hpp>

#include <benchmark/benchmark.h>

#include <deque>
#include <mutex>

namespace {

corio::task<> lock_unlock(benchmark::State& state, corio::mutex& m) {
    for (auto _ : state) {
        auto g = co_await m.lock();
        benchmark::DoNotOptimize(g);
    }
}

// co_await m.lock() on a free mutex, then the guard's unlock: the cost of a critical section.
void BM_mutex_lock_unlock(benchmark::State& state) {
    corio::runtime rt;
    corio::mutex m;
    rt.block_on(lock_unlock(state, m));
}
BENCHMARK(BM_mutex_lock_unlock);

// Baseline: std::mutex lock + unlock, uncontended.
void BM_std_mutex_lock_unlock(benchmark::State& state) {
    std::mutex m;
    for (auto _ : state) {
        std::lock_guard g(m);
        benchmark::DoNotOptimize(&m);
    }
}
BENCHMARK(BM_std_mutex_lock_unlock);

corio::task<> send_recv(benchmark::State& state, corio::channel<int>& ch) {
    int i = 0;
    for (auto _ : state) {
        (void)co_await ch.send(int{i});
        auto r = co_await ch.recv();
        i = r.value_or(0) + 1;
    }
    benchmark::DoNotOptimize(i);
}

// One co_await send and one co_await recv on the same loop, neither waiting.
void BM_channel_send_recv(benchmark::State& state) {
    corio::runtime rt;
    corio::channel<int> ch(64);
    rt.block_on(send_recv(state, ch));
}
BENCHMARK(BM_channel_send_recv);

// Baseline: a std::deque guarded by a std::mutex, one push and one pop.
void BM_std_mutex_deque_push_pop(benchmark::State& state) {
    std::mutex m;
    std::deque<int> q;
    int i = 0;
    for (auto _ : state) {
        {
            std::lock_guard g(m);
            q.push_back(i);
        }
        std::lock_guard g(m);
        i = q.front() + 1;
        q.pop_front();
    }
    benchmark::DoNotOptimize(i);
}
BENCHMARK(BM_std_mutex_deque_push_pop);

corio::task<> acquire_release(benchmark::State& state, corio::semaphore& s) {
    for (auto _ : state) {
        auto p = co_await s.acquire();
        benchmark::DoNotOptimize(p);
    }
}

// co_await acquire() with a permit free, then the permit's release.
void BM_semaphore_acquire_release(benchmark::State& state) {
    corio::runtime rt;
    corio::semaphore s(1);
    rt.block_on(acquire_release(state, s));
}
BENCHMARK(BM_semaphore_acquire_release);

}  // namespace
