// SPDX-License-Identifier: MIT
// blocking_ticker: does a loop stay on time while spawn_blocking keeps its pool busy? A 1 ms
// ticker runs alone (the baseline), then beside CALLS tasks that each await spawn_blocking of a
// call blocking BLOCK_US (sleep, or a busy spin with --spin) again and again. A tick is kept when
// the loop resumed the ticker less than one period after it was due. Prints both runs.
// With --resolve HOST the load is CALLS tasks each resolving HOST with corio::net::resolve
// (getaddrinfo on the same pool) again and again.
//
//   blocking_ticker [--backend NAME] [--calls 1000] [--block-us 1000] [--threads 64]
//                   [--seconds 2] [--spin] [--resolve HOST] [--resolve-limit N]
#include <corio/event.hpp>
#include <corio/net/resolve.hpp>
#include <corio/runtime.hpp>
#include <corio/spawn_blocking.hpp>
#include <corio/timer.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::clock_type;

struct options {
    std::string backend;
    int calls = 1000;
    long block_us = 1000;
    std::size_t threads = 64;
    int seconds = 2;
    bool spin = false;
    std::string resolve;  // a host name: the load resolves it instead of blocking
    std::size_t resolve_limit = 0;  // net::set_max_concurrent_resolutions; 0: corio's default
};

struct ticks {
    long expected = 0;
    long kept = 0;
    std::chrono::microseconds p99_late{};
    std::chrono::microseconds max_late{};
};

constexpr auto period = 1ms;

corio::task<ticks> ticker(std::chrono::seconds duration) {
    const long n = duration / period;
    std::vector<clock_type::duration> late;
    late.reserve(static_cast<std::size_t>(n));
    const auto start = clock_type::now();
    for (long k = 1; k <= n; ++k) {
        const auto due = start + k * period;
        (void)co_await corio::sleep_until(due);
        late.push_back(clock_type::now() - due);
    }
    ticks t;
    t.expected = n;
    t.kept = std::count_if(late.begin(), late.end(), [](auto d) { return d < period; });
    std::sort(late.begin(), late.end());
    const auto us = [](clock_type::duration d) {
        return std::chrono::duration_cast<std::chrono::microseconds>(d);
    };
    t.p99_late = us(late[static_cast<std::size_t>(n * 99 / 100)]);
    t.max_late = us(late.back());
    co_return t;
}

struct load {
    explicit load(const options& o) : opt(o) {}
    const options& opt;
    bool stop = false;
    long completed = 0;
    int running = 0;
    corio::event all_done;
};

void block_for(const options& opt) {
    const auto d = std::chrono::microseconds(opt.block_us);
    if (!opt.spin) {
        std::this_thread::sleep_for(d);
        return;
    }
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
    }
}

corio::task<void> caller(load& l) {
    auto call = [&opt = l.opt] { block_for(opt); };
    while (!l.stop) {
        if (!l.opt.resolve.empty()) {
            auto found = co_await corio::net::resolve(l.opt.resolve, 80);
            if (!found) {
                fmt::print(stderr, "blocking_ticker: resolve {}: {}\n", l.opt.resolve,
                           found.error().message());
                std::exit(1);
            }
            ++l.completed;
        } else if (co_await corio::spawn_blocking(call)) {
            ++l.completed;
        }
    }
    if (--l.running == 0) {
        l.all_done.set();
    }
}

corio::task<ticks> ticker_beside_load(load& l, std::chrono::seconds duration) {
    for (int i = 0; i < l.opt.calls; ++i) {
        ++l.running;
        corio::spawn(caller(l));
    }
    ticks t = co_await ticker(duration);
    l.stop = true;
    (void)co_await l.all_done.wait();
    co_return t;
}

void print(const char* name, const ticks& t, long calls, std::chrono::seconds duration) {
    fmt::print("{:<12} ticks kept {:>5} / {:<5} = {:5.1f}%   p99 late {:>6} us   max late {:>6} us",
               name, t.kept, t.expected, 100.0 * static_cast<double>(t.kept) / static_cast<double>(t.expected),
               t.p99_late.count(), t.max_late.count());
    if (calls >= 0) {
        fmt::print("   calls done {} ({:.0f}/s)", calls,
                   static_cast<double>(calls) / static_cast<double>(duration.count()));
    }
    fmt::print("\n");
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--spin") {
            o.spin = true;
            continue;
        }
        if (!v) {
            fmt::print(stderr, "blocking_ticker: {} needs a value\n", a);
            std::exit(2);
        }
        ++i;
        if (a == "--backend") {
            o.backend = v;
        } else if (a == "--calls") {
            o.calls = std::atoi(v);
        } else if (a == "--block-us") {
            o.block_us = std::atol(v);
        } else if (a == "--threads") {
            o.threads = static_cast<std::size_t>(std::atol(v));
        } else if (a == "--resolve") {
            o.resolve = v;
        } else if (a == "--resolve-limit") {
            o.resolve_limit = static_cast<std::size_t>(std::atol(v));
        } else if (a == "--seconds") {
            o.seconds = std::atoi(v);
        } else {
            fmt::print(stderr, "blocking_ticker: unknown option {}\n", a);
            std::exit(2);
        }
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse(argc, argv);
    if (opt.resolve_limit > 0) {
        corio::net::set_max_concurrent_resolutions(opt.resolve_limit);
    }
    corio::runtime_options ro;
    ro.backend = opt.backend;
    ro.blocking_threads = opt.threads;
    corio::runtime rt(ro);
    const std::chrono::seconds duration(opt.seconds);
    if (opt.resolve.empty()) {
        fmt::print("# backend {}, 1 ms ticker for {} s; load: {} tasks each awaiting spawn_blocking "
                   "of a {} us {} in a loop, {} blocking threads\n",
                   rt.backend_name(), opt.seconds, opt.calls, opt.block_us,
                   opt.spin ? "busy spin" : "sleep", opt.threads);
    } else {
        fmt::print("# backend {}, 1 ms ticker for {} s; load: {} tasks each awaiting "
                   "net::resolve(\"{}\") in a loop, {} blocking threads, at most {} getaddrinfo at once\n",
                   rt.backend_name(), opt.seconds, opt.calls, opt.resolve, opt.threads,
                   corio::net::max_concurrent_resolutions());
    }
    const ticks alone = rt.block_on(ticker(duration));
    print("alone", alone, -1, duration);
    load l(opt);
    const ticks loaded = rt.block_on(ticker_beside_load(l, duration));
    print("with load", loaded, l.completed, duration);
    const double ratio = static_cast<double>(loaded.kept) / static_cast<double>(alone.kept);
    fmt::print("# kept with load / kept alone: {:.3f} (target >= 0.90)\n", ratio);
    return ratio >= 0.90 ? 0 : 1;
}
