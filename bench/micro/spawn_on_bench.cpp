// SPDX-License-Identifier: MIT
// Cross-loop hand-off: spawn_on latency to a parked loop against a bare eventfd + epoll wake of
// a parked thread (the floor), and how many wakes a burst of spawn_on costs (coalescing).
#include <corio/detail/scheduler.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

std::int64_t since(clock_type::time_point t0) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count();
}

// Long enough for the woken side to go back to sleep, so every hand-off finds it parked.
void let_it_park() { std::this_thread::sleep_for(std::chrono::microseconds(200)); }

void report_percentiles(benchmark::State& state, std::vector<std::int64_t>& ns) {
    std::sort(ns.begin(), ns.end());
    if (ns.empty()) {
        return;
    }
    state.counters["p50_ns"] = static_cast<double>(ns[ns.size() / 2]);
    state.counters["p99_ns"] = static_cast<double>(ns[ns.size() * 99 / 100]);
}

corio::task<void> probe(clock_type::time_point t0, std::atomic<std::int64_t>& out) {
    out.store(since(t0), std::memory_order_release);
    co_return;
}

void BM_spawn_on_parked_loop(benchmark::State& state) {
    corio::runtime_options options;
    options.threads = 2;
    corio::runtime rt(options);
    std::vector<std::int64_t> ns;
    for (auto _ : state) {
        state.PauseTiming();
        let_it_park();
        std::atomic<std::int64_t> latency{-1};
        state.ResumeTiming();
        rt.spawn_on(1, probe(clock_type::now(), latency));
        while (latency.load(std::memory_order_acquire) < 0) {
        }
        ns.push_back(latency.load());
    }
    report_percentiles(state, ns);
}
BENCHMARK(BM_spawn_on_parked_loop)->Iterations(2000)->UseRealTime();

// The floor: a thread parked in epoll_wait on an eventfd, woken by one write.
void BM_eventfd_wake_baseline(benchmark::State& state) {
    const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    std::atomic<std::int64_t> sent_at{0};
    std::atomic<std::int64_t> latency{-1};
    std::atomic<bool> quit{false};
    std::thread parked([&] {
        epoll_event got{};
        while (!quit.load()) {
            if (::epoll_wait(ep, &got, 1, -1) == 1) {
                std::uint64_t n = 0;
                (void)::read(efd, &n, sizeof n);
                const auto t0 = clock_type::time_point(clock_type::duration(sent_at.load()));
                latency.store(since(t0), std::memory_order_release);
            }
        }
    });
    std::vector<std::int64_t> ns;
    for (auto _ : state) {
        state.PauseTiming();
        let_it_park();
        latency.store(-1);
        state.ResumeTiming();
        sent_at.store(clock_type::now().time_since_epoch().count());
        const std::uint64_t one = 1;
        (void)::write(efd, &one, sizeof one);
        while (latency.load(std::memory_order_acquire) < 0) {
        }
        ns.push_back(latency.load());
    }
    quit.store(true);
    const std::uint64_t one = 1;
    (void)::write(efd, &one, sizeof one);
    parked.join();
    ::close(ep);
    ::close(efd);
    report_percentiles(state, ns);
}
BENCHMARK(BM_eventfd_wake_baseline)->Iterations(2000)->UseRealTime();

corio::task<void> count_one(std::atomic<int>& ran) {
    ran.fetch_add(1, std::memory_order_release);
    co_return;
}

corio::task<void> read_wakes(std::atomic<std::int64_t>& out) {
    out.store(static_cast<std::int64_t>(corio::detail::scheduler::current()->remote_wakes()),
              std::memory_order_release);
    co_return;
}

std::int64_t wakes_of_loop_1(corio::runtime& rt) {
    std::atomic<std::int64_t> wakes{-1};
    rt.spawn_on(1, read_wakes(wakes));
    while (wakes.load(std::memory_order_acquire) < 0) {
    }
    return wakes.load();
}

// 1,000 spawn_on in a burst to a parked loop: how many of them had to wake it.
void BM_spawn_on_burst_1000(benchmark::State& state) {
    corio::runtime_options options;
    options.threads = 2;
    corio::runtime rt(options);
    constexpr int burst = 1000;
    std::int64_t wakes = 0;
    for (auto _ : state) {
        state.PauseTiming();
        const std::int64_t before = wakes_of_loop_1(rt);
        let_it_park();
        std::atomic<int> ran{0};
        state.ResumeTiming();
        for (int i = 0; i < burst; ++i) {
            rt.spawn_on(1, count_one(ran));
        }
        while (ran.load(std::memory_order_acquire) < burst) {
        }
        state.PauseTiming();
        // The read itself is handed over after the burst ran: it may cost one wake of its own.
        wakes += wakes_of_loop_1(rt) - before;
        state.ResumeTiming();
    }
    state.counters["wakes_per_1000"] =
        static_cast<double>(wakes) / static_cast<double>(state.iterations());
    state.counters["spawns/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * burst,
                                                    benchmark::Counter::kIsRate);
}
BENCHMARK(BM_spawn_on_burst_1000)->Iterations(200)->UseRealTime();

}  // namespace
