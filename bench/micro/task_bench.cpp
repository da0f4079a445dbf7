// SPDX-License-Identifier: MIT
// task<T> create + await + destroy, with heap allocations counted per iteration.
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
// Counts every global operator new, so the benchmark can show that steady-state task frames
// come from corio's recycling allocator rather than malloc.
std::atomic<long> heap_allocations{0};
}  // namespace

// g++ 12 pairs the inlined replacement new with free() and wrongly calls the pair mismatched.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
    heap_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) {
        return p;
    }
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

corio::task<int> leaf(int x) { co_return x + 1; }

corio::task<> await_leaves(benchmark::State& state) {
    int acc = 0;
    const long before = heap_allocations.load();
    for (auto _ : state) {
        acc = co_await leaf(acc);
    }
    benchmark::DoNotOptimize(acc);
    state.counters["heap_allocs_per_task"] = benchmark::Counter(
        static_cast<double>(heap_allocations.load() - before) / static_cast<double>(state.iterations()));
}

void BM_task_create_await_destroy(benchmark::State& state) {
    corio::runtime rt;
    rt.block_on(await_leaves(state));
}
BENCHMARK(BM_task_create_await_destroy);

// The same work as a plain (non-inlined) function call: the floor a task is measured against.
[[gnu::noinline]] int plain_leaf(int x) { return x + 1; }
void BM_plain_call_baseline(benchmark::State& state) {
    int acc = 0;
    for (auto _ : state) {
        acc = plain_leaf(acc);
        benchmark::DoNotOptimize(acc);
    }
}
BENCHMARK(BM_plain_call_baseline);

}  // namespace
