// SPDX-License-Identifier: MIT
// reactor add + remove of one descriptor, per backend (each is a kernel call on epoll).
#include <corio/backend.hpp>
#include <corio/reactor.hpp>

#include <benchmark/benchmark.h>

#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace {

void BM_reactor_register_unregister(benchmark::State& state, std::string backend) {
    auto r = corio::reactor::open(backend);
    if (!r) {
        state.SkipWithError("backend unavailable");
        return;
    }
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) {
        state.SkipWithError("socketpair failed");
        return;
    }
    auto noop = [](void*, corio::readiness) noexcept {};
    for (auto _ : state) {
        auto t = (*r)->add(fds[0], corio::interest::read, noop, nullptr);
        benchmark::DoNotOptimize(t);
        (void)(*r)->remove(*t);
    }
    ::close(fds[0]);
    ::close(fds[1]);
}

[[maybe_unused]] const bool registered = [] {
    for (const auto& name : corio::available_backends()) {
        benchmark::RegisterBenchmark(("BM_reactor_register_unregister/" + name).c_str(),
                                     BM_reactor_register_unregister, name);
    }
    return true;
}();

}  // namespace
