// SPDX-License-Identifier: MIT
// when_all and when_any of two tasks that complete synchronously, against awaiting the same two
// tasks one after the other (the baseline: what a composition adds is its frame, its
// bookkeeping and, only when a child asks for it, its stop token). The last row has the
// children ask (this_task::stop_token()), so the token is made: its cost, on its own.
#include <corio/cancel.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/when_all.hpp>
#include <corio/when_any.hpp>

#include <benchmark/benchmark.h>

#include <tuple>
#include <variant>

namespace {

corio::task<int> leaf(int x) { co_return x + 1; }

corio::task<int> leaf_that_looks(int x) {
    const auto token = co_await corio::this_task::stop_token();
    co_return token.stop_requested() ? x : x + 1;
}

corio::task<> await_in_turn(benchmark::State& state) {
    int acc = 0;
    for (auto _ : state) {
        const int a = co_await leaf(acc);
        const int b = co_await leaf(a);
        acc = b;
    }
    benchmark::DoNotOptimize(acc);
}

template <corio::task<int> (*Child)(int)>
corio::task<> await_when_all(benchmark::State& state) {
    int acc = 0;
    for (auto _ : state) {
        auto [a, b] = co_await corio::when_all(Child(acc), Child(acc + 1));
        acc = a + b;
    }
    benchmark::DoNotOptimize(acc);
}

corio::task<> await_when_any(benchmark::State& state) {
    int acc = 0;
    for (auto _ : state) {
        auto r = co_await corio::when_any(leaf(acc), leaf(acc + 1));
        acc = std::get<0>(r.value);  // the first always wins: it ends at once
    }
    benchmark::DoNotOptimize(acc);
}

void run_on_a_runtime(benchmark::State& state, corio::task<> (*body)(benchmark::State&)) {
    corio::runtime rt;
    rt.block_on(body(state));
}

void BM_two_tasks_awaited_in_turn(benchmark::State& s) { run_on_a_runtime(s, await_in_turn); }
BENCHMARK(BM_two_tasks_awaited_in_turn);
void BM_when_all_of_two_sync_tasks(benchmark::State& s) {
    run_on_a_runtime(s, await_when_all<leaf>);
}
BENCHMARK(BM_when_all_of_two_sync_tasks);
void BM_when_any_of_two_sync_tasks(benchmark::State& s) { run_on_a_runtime(s, await_when_any); }
BENCHMARK(BM_when_any_of_two_sync_tasks);
void BM_when_all_of_two_sync_tasks_reading_their_token(benchmark::State& s) {
    run_on_a_runtime(s, await_when_all<leaf_that_looks>);
}
BENCHMARK(BM_when_all_of_two_sync_tasks_reading_their_token);

}  // namespace
