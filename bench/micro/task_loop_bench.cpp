// SPDX-License-Identifier: MIT
// What a wait pays to find its loop: through its task's promise, with and without the check
// that the task runs on its loop's thread, against the thread_local lookup it replaced.
#include <corio/detail/promise_base.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <benchmark/benchmark.h>

#include <coroutine>

namespace {

using corio::detail::io_loop;

// How waits found their loop before: an out-of-line call reading the thread_local.
[[gnu::noinline]] io_loop* thread_loop_call() noexcept { return corio::detail::this_thread_loop; }

enum class lookup { promise, promise_checked, thread_local_call };

// An await that finds the loop, as a wait's await_suspend does, then does not suspend: the
// loop's cost is the lookup plus a suspend point that resumes at once.
template <lookup How>
struct find_loop {
    io_loop* found = nullptr;
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) {
        if constexpr (How == lookup::promise) {
            found = h.promise().loop();
        } else if constexpr (How == lookup::promise_checked) {
            found = &corio::detail::loop_of(h, "bench");
        } else {
            found = thread_loop_call();
        }
        return false;
    }
    io_loop* await_resume() const noexcept { return found; }
};

template <lookup How>
corio::task<void> awaits(benchmark::State& state) {
    for (auto _ : state) {
        io_loop* l = co_await find_loop<How>{};
        benchmark::DoNotOptimize(l);
    }
}

template <lookup How>
void BM_wait_finds_loop(benchmark::State& state) {
    corio::runtime rt;
    rt.block_on(awaits<How>(state));
}
// The baseline: one load from the promise, no check (what a release build without the check
// would do).
BENCHMARK_TEMPLATE(BM_wait_finds_loop, lookup::promise);
// What every wait does: the promise's loop, compared with the thread's (usage_error if not).
BENCHMARK_TEMPLATE(BM_wait_finds_loop, lookup::promise_checked);
// The out-of-line thread_local lookup waits used before (current_io_loop()).
BENCHMARK_TEMPLATE(BM_wait_finds_loop, lookup::thread_local_call);

}  // namespace
