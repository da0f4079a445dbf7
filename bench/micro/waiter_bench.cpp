// SPDX-License-Identifier: MIT
// What a wait pays to honour a cancellable ambient token: the frame's shared ambient_watch
// against a stop_callback registered per wait (what every wait did before), and against a
// token that cannot stop (the baseline), in one binary.
#include <corio/cancel.hpp>
#include <corio/detail/waiter.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <benchmark/benchmark.h>

#include <coroutine>
#include <stop_token>

namespace {

using corio::detail::waiter;

enum class watch { shared, per_wait };

// Parks a waiter and watches the tokens as a wait does, then completes it at once (as if its
// event had come) and does not suspend: the loop measures the watching and the release.
template <watch How>
struct watched_wait {
    waiter w;
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) {
        w.handle = h;
        w.sched = corio::detail::loop_of(h, "bench").sched;
        w.st = waiter::state::parked;
        auto* frame = How == watch::shared ? corio::detail::promise_of(h) : nullptr;
        (void)w.watch_stop(std::stop_token{}, corio::detail::ambient_stop_of(h), frame);
        w.st = waiter::state::idle;
        w.release();
        return false;
    }
    void await_resume() const noexcept {}
};

template <watch How>
corio::task<void> waits(benchmark::State& state) {
    for (auto _ : state) {
        co_await watched_wait<How>{};
    }
}

template <watch How>
void BM_cancellable_wait(benchmark::State& state) {
    corio::runtime rt;
    std::stop_source source;  // never stopped, but it could be: every wait must watch it
    rt.block_on(corio::with_stop_token(source.get_token(), waits<How>(state)));
}
BENCHMARK_TEMPLATE(BM_cancellable_wait, watch::shared);
BENCHMARK_TEMPLATE(BM_cancellable_wait, watch::per_wait);

// Baseline: the same wait in a task nobody can cancel (watch_stop returns at once).
void BM_uncancellable_wait(benchmark::State& state) {
    corio::runtime rt;
    rt.block_on(waits<watch::shared>(state));
}
BENCHMARK(BM_uncancellable_wait);

}  // namespace
