// SPDX-License-Identifier: MIT
// Tests for corio/runtime.hpp as a thread_local: destroyed at thread exit after the thread's
// frame cache and buffer pool, it must still give back everything (heap in use stays flat).
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include <corio/event.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/task.hpp>
#include <corio/timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <malloc.h>

#if defined(__SANITIZE_ADDRESS__)
#define CORIO_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORIO_TEST_ASAN 1
#endif
#endif
#ifdef CORIO_TEST_ASAN
// From the sanitizer runtime (<sanitizer/allocator_interface.h>, which g++ 12 does not ship).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace {

using namespace std::chrono_literals;

// Bytes the heap has handed out and not had back (ASan replaces malloc, so ask it instead).
std::size_t heap_in_use() {
#ifdef CORIO_TEST_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

std::span<const std::byte> bytes_of(std::string_view s) noexcept {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// Receives into a pooled buffer, then parks holding it (and the stream): the runtime's
// destructor destroys this frame at thread exit, and only then does the buffer go back.
corio::task<void> receive_then_park(corio::net::tcp_stream s, corio::event& received) {
    auto buf = co_await s.recv();
    received.set();
    (void)co_await corio::sleep_for(1h);
    (void)buf;
}

// Parks in a receive that never completes (io_uring: with a ring buffer or request in flight).
corio::task<void> park_in_recv(corio::net::tcp_stream s) {
    auto buf = co_await s.recv();
    (void)buf;
}

corio::task<void> nap(int i) { (void)co_await corio::sleep_for(std::chrono::microseconds(i)); }

// A little of everything a server thread does, leaving tasks, sockets and timers pending.
corio::task<std::string> workload() {
    auto listener = corio::net::tcp_listener::bind({corio::net::ip_address::v4_loopback(), 0});
    if (!listener) {
        co_return "bind: " + listener.error().message();
    }
    auto ep = listener->local_endpoint();
    if (!ep) {
        co_return "local_endpoint: " + ep.error().message();
    }
    corio::event received;
    for (int i = 0; i < 2; ++i) {
        auto client = co_await corio::net::tcp_stream::connect(*ep);
        if (!client) {
            co_return "connect: " + client.error().message();
        }
        auto server = co_await listener->accept();
        if (!server) {
            co_return "accept: " + server.error().message();
        }
        if (i == 0) {
            corio::spawn(receive_then_park(std::move(*server), received));
            if (auto sent = co_await client->send_all(bytes_of("hello")); !sent) {
                co_return "send: " + sent.error().message();
            }
            if (auto r = co_await received.wait(); !r) {
                co_return "wait: " + r.error().message();
            }
        } else {
            corio::spawn(park_in_recv(std::move(*server)));
        }
        corio::spawn(park_in_recv(std::move(*client)));
    }
    for (int i = 0; i < 8; ++i) {
        corio::spawn(nap(i));
    }
    (void)co_await corio::sleep_for(10us);
    co_return "";
}

// One thread's life: a thread_local runtime (the backend CORIO_BACKEND names) that ran the
// workload, destroyed by the thread's exit. Returns the workload's error, or "" and sets backend.
std::string run_thread(std::string& backend) {
    std::string error;
    std::thread([&error, &backend] {
        thread_local corio::runtime rt;
        backend = rt.backend_name();
        error = rt.block_on(workload());
    }).join();
    return error;
}

TEST_CASE("a thread_local runtime gives back all its memory at every thread exit") {
    // The first threads fill what the process keeps once (malloc arenas, lazy statics).
    std::string backend;
    for (int i = 0; i < 5; ++i) {
        REQUIRE(run_thread(backend) == "");
    }
    INFO("backend " << backend);
    const std::size_t before = heap_in_use();
    constexpr int threads = 300;
    for (int i = 0; i < threads; ++i) {
        REQUIRE(run_thread(backend) == "");
    }
    const std::size_t after = heap_in_use();
    const std::ptrdiff_t growth =
        static_cast<std::ptrdiff_t>(after) - static_cast<std::ptrdiff_t>(before);
    INFO("heap in use grew by " << growth << " bytes over " << threads << " thread exits");
    // Before the fix each exit leaked at least a 16 KiB pooled buffer (4.8 MiB here; io_uring's
    // ring, ~16 MiB an exit). The bound leaves room only for noise. The kqueue emulation
    // (libkqueue) frees a closed kqueue's state from its own monitor thread, so under load a
    // number of them may still be pending when this measures (146 KiB seen in CI): a backlog
    // that does not grow with the thread count, unlike a leak.
    const std::ptrdiff_t bound = backend == "kqueue" ? 1024 * 1024 : 64 * 1024;
    CHECK(growth < bound);
}

}  // namespace
