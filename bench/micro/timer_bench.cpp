// SPDX-License-Identifier: MIT
// Micro-benchmarks of timer_queue against a std::priority_queue baseline of the same size.
#include <corio/detail/timer_queue.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <random>
#include <utility>
#include <vector>

namespace {

using corio::detail::timer_node;
using corio::detail::timer_queue;
using corio::detail::timer_time;
using std::chrono::nanoseconds;

// Pending deadlines spread over ~10 s, the scale of a server's I/O timeouts.
constexpr std::int64_t spread_ns = 10'000'000'000;
// Deadlines for the timed loop are drawn beforehand, so the RNG is not what gets measured.
constexpr std::size_t drawn_count = 4096;

constexpr timer_time origin = timer_time{} + std::chrono::hours(1);

std::vector<nanoseconds> random_offsets(std::size_t count, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::int64_t> spread(0, spread_ns);
    std::vector<nanoseconds> offsets(count);
    for (nanoseconds& offset : offsets) {
        offset = nanoseconds(spread(rng));
    }
    return offsets;
}

void ignore_fire(timer_node*) {}

// Insert a timer at a random deadline among `pending` others, then cancel it: the life of an I/O
// timeout whose operation completes in time.
void BM_timer_insert_cancel(benchmark::State& state) {
    const auto pending = static_cast<std::size_t>(state.range(0));
    // Declared first: nodes outlive the queue, whose destructor unlinks the pending ones.
    std::vector<timer_node> nodes(pending);
    timer_queue queue(origin);
    const std::vector<nanoseconds> prefill = random_offsets(pending, 1);
    for (std::size_t i = 0; i < pending; ++i) {
        nodes[i].deadline = origin + prefill[i];
        nodes[i].fire = ignore_fire;
        queue.insert(nodes[i]);
    }
    const std::vector<nanoseconds> drawn = random_offsets(drawn_count, 2);
    timer_node probe;
    probe.fire = ignore_fire;
    std::size_t i = 0;
    for (auto _ : state) {
        probe.deadline = origin + drawn[i++ % drawn_count];
        queue.insert(probe);
        queue.cancel(probe);
    }
    benchmark::DoNotOptimize(queue.size());
}
BENCHMARK(BM_timer_insert_cancel)->Arg(1000)->Arg(1'000'000);

// Baseline: push a deadline into a binary heap holding `pending` others, then pop the earliest
// (a heap cannot cancel). The pushed deadline is the earliest plus 0..10 s (the "hold model"),
// so the heap's spread stays what it was at the start instead of drifting as the run goes on.
void BM_priority_queue_push_pop(benchmark::State& state) {
    const auto pending = static_cast<std::size_t>(state.range(0));
    std::vector<timer_time> prefill;
    for (nanoseconds offset : random_offsets(pending, 1)) {
        prefill.push_back(origin + offset);
    }
    std::priority_queue<timer_time, std::vector<timer_time>, std::greater<>> heap(
        std::greater<>{}, std::move(prefill));
    const std::vector<nanoseconds> drawn = random_offsets(drawn_count, 2);
    std::size_t i = 0;
    for (auto _ : state) {
        heap.push(heap.top() + drawn[i++ % drawn_count]);
        heap.pop();
    }
    benchmark::DoNotOptimize(heap.top());
}
BENCHMARK(BM_priority_queue_push_pop)->Arg(1000)->Arg(1'000'000);

// A timer that re-arms itself 0..10 s later each time it fires.
struct rearming_timer : timer_node {
    timer_queue* queue = nullptr;
    const std::vector<nanoseconds>* drawn = nullptr;
    std::size_t* next_draw = nullptr;
};

void rearm(timer_node* n) {
    auto* self = static_cast<rearming_timer*>(n);
    self->deadline += (*self->drawn)[(*self->next_draw)++ % drawn_count];
    self->queue->insert(*self);
}

// The same hold model on the wheel: jump to the earliest deadline, expire it, and re-arm it from
// its callback. Counterpart of the heap baseline that includes cascading and slot sorting.
void BM_timer_expire_rearm(benchmark::State& state) {
    const auto pending = static_cast<std::size_t>(state.range(0));
    const std::vector<nanoseconds> drawn = random_offsets(drawn_count, 2);
    std::size_t next_draw = 0;
    std::vector<rearming_timer> timers(pending);  // outlives the queue, as above
    timer_queue queue(origin);
    const std::vector<nanoseconds> prefill = random_offsets(pending, 1);
    for (std::size_t i = 0; i < pending; ++i) {
        timers[i].deadline = origin + prefill[i];
        timers[i].fire = rearm;
        timers[i].queue = &queue;
        timers[i].drawn = &drawn;
        timers[i].next_draw = &next_draw;
        queue.insert(timers[i]);
    }
    std::size_t fired = 0;
    for (auto _ : state) {
        fired += queue.expire(*queue.next_deadline());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(fired));
}
BENCHMARK(BM_timer_expire_rearm)->Arg(1000)->Arg(1'000'000);

}  // namespace
