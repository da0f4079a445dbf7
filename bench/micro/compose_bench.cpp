// SPDX-License-Identifier: MIT
// when_all of two tasks that complete synchronously, against awaiting the same two tasks one
// after the other (the baseline: what when_all adds is its frame, the children's frames and its
// stop_source).
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/when_all.hpp>

#include <benchmark/benchmark.h>

#include <tuple>

namespace {

corio::task<int> leaf(int x) { co_return x + 1; }

corio::task<> await_in_turn(benchmark::State& state) {
    int acc = 0;
    for (auto _ : state) {
        const int a = co_await leaf(acc);
        const int b = co_await leaf(a);
        acc = b;
    }
    benchmark::DoNotOptimize(acc);
}

corio::task<> await_when_all(benchmark::State& state) {
    int acc = 0;
    for (auto _ : state) {
        auto [a, b] = co_await corio::when_all(leaf(acc), leaf(acc + 1));
        acc = a + b;
    }
    benchmark::DoNotOptimize(acc);
}

void BM_two_tasks_awaited_in_turn(benchmark::State& state) {
    corio::runtime rt;
    rt.block_on(await_in_turn(state));
}
BENCHMARK(BM_two_tasks_awaited_in_turn);

void BM_when_all_of_two_sync_tasks(benchmark::State& state) {
    corio::runtime rt;
    rt.block_on(await_when_all(state));
}
BENCHMARK(BM_when_all_of_two_sync_tasks);

}  // namespace
