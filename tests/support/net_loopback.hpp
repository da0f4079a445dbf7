// SPDX-License-Identifier: MIT
// Loopback fixtures for the net tests: a runtime per test, listeners on port 0, byte patterns.
#pragma once

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/runtime.hpp>
#include <corio/stream.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <sys/resource.h>
#include <sys/socket.h>

namespace corio_test {

using namespace std::chrono_literals;

/// Runs `body` to completion on a runtime of its own (the backend CORIO_BACKEND names) and
/// fails the test if `limit` passes first (every wait in `body` is then cancelled) or if an
/// exception escaped a spawned task. Spawned tasks still parked at the end are destroyed.
inline void run_test(corio::task<> body, corio::clock_type::duration limit = 30s) {
    std::exception_ptr escaped;
    corio::runtime_options options;
    options.on_unhandled_exception = [&escaped](std::exception_ptr e) {
        if (!escaped) {
            escaped = std::move(e);
        }
    };
    corio::runtime rt(std::move(options));
    corio::result<void> finished = rt.block_on(corio::with_timeout(limit, std::move(body)));
    if (escaped) {
        std::rethrow_exception(escaped);
    }
    INFO("the test did not finish within its deadline");
    REQUIRE(finished);
}

/// A listener on port 0 of `address` (127.0.0.1 unless told); the test fails if bind does.
inline corio::net::tcp_listener bind_loopback(
    corio::net::ip_address address = corio::net::ip_address::v4_loopback(),
    corio::net::listen_options options = {}) {
    auto listener = corio::net::tcp_listener::bind({address, 0}, options);
    INFO("bind: " << listener.error().message());
    REQUIRE(listener);
    return std::move(*listener);
}

/// The endpoint a listener bound to; the test fails if it cannot be read.
inline corio::net::endpoint endpoint_of(const corio::net::tcp_listener& listener) {
    auto ep = listener.local_endpoint();
    INFO("local_endpoint: " << ep.error().message());
    REQUIRE(ep);
    return *ep;
}

/// What a spawned task reports back to the test body: its result, and when it is there.
template <class T>
struct outcome {
    std::optional<corio::result<T>> value;
    corio::event done;
};

/// Both ends of one loopback connection.
struct stream_pair {
    corio::net::tcp_stream client;  // the end that connected
    corio::net::tcp_stream server;  // the end accept() returned
};

/// Fails the test, naming `what` and the error, unless `r` holds a value. (INFO would have to
/// live across a co_await, where other tasks' assertions would pick it up.)
template <class T>
void require_ok(const corio::result<T>& r, std::string_view what) {
    if (!r) {
        FAIL(what << ": " << r.error().message());
    }
}

/// Connects to `listener` and accepts; the kernel completes the handshake without accept(),
/// so one task can do both in turn. The test fails if either step does.
inline corio::task<stream_pair> connect_pair(corio::net::tcp_listener& listener) {
    auto client = co_await corio::net::tcp_stream::connect(endpoint_of(listener));
    require_ok(client, "connect");
    auto server = co_await listener.accept();
    require_ok(server, "accept");
    co_return stream_pair{std::move(*client), std::move(*server)};
}

/// Echoes until end of stream or an error, then closes: the server side of many tests
/// (any stream with a pooled recv(), TCP or Unix).
template <class Stream = corio::net::tcp_stream>
corio::task<> echo_until_end(Stream s) {
    for (;;) {
        auto data = co_await s.recv();
        if (!data || data->empty()) {
            co_return;
        }
        if (!co_await s.send_all(data->bytes())) {
            co_return;
        }
    }
}

/// Receives until `want` bytes came or the stream ended; returns what came.
template <corio::async_read_stream Stream>
corio::task<corio::result<std::string>> recv_exactly(Stream& s, std::size_t want) {
    std::string got(want, '\0');
    std::size_t n = 0;
    while (n < want) {
        auto r = co_await s.recv(std::as_writable_bytes(std::span(got)).subspan(n));
        if (!r) {
            co_return r.error();
        }
        if (*r == 0) {
            break;
        }
        n += *r;
    }
    got.resize(n);
    co_return got;
}

/// Receives until end of stream; returns everything that came (TCP or Unix stream).
template <class Stream>
corio::task<corio::result<std::string>> recv_to_end(Stream& s) {
    std::string got;
    for (;;) {
        auto b = co_await s.recv();
        if (!b) {
            co_return b.error();
        }
        if (b->empty()) {
            co_return got;
        }
        got.append(reinterpret_cast<const char*>(b->data()), b->size());
    }
}

inline std::span<const std::byte> bytes_of(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

/// Byte `offset` of the pseudo-random stream named `seed` (splitmix64 of each 8-byte block),
/// so a sender and a checker agree on a long stream without either keeping a copy.
inline std::byte pattern_byte(std::uint64_t seed, std::uint64_t offset) noexcept {
    std::uint64_t x = seed * 0x100000001b3u + (offset >> 3) + 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    x ^= x >> 31;
    return static_cast<std::byte>(x >> (8 * (offset & 7)));
}

/// Fills `out` with the stream `seed` from `offset` on.
inline void fill_pattern(std::uint64_t seed, std::uint64_t offset, std::span<std::byte> out) {
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = pattern_byte(seed, offset + i);
    }
}

/// The index in `got` of the first byte that differs from the stream `seed` at `offset`.
inline std::optional<std::size_t> first_difference(std::uint64_t seed, std::uint64_t offset,
                                                   std::span<const std::byte> got) {
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (got[i] != pattern_byte(seed, offset + i)) {
            return i;
        }
    }
    return std::nullopt;
}

/// Makes the next close() of `s` send a reset (SO_LINGER with a zero timeout), then closes.
inline void reset_connection(corio::net::tcp_stream& s) {
    const linger abort_on_close{1, 0};
    REQUIRE(::setsockopt(s.handle().fd(), SOL_SOCKET, SO_LINGER, &abort_on_close,
                         sizeof abort_on_close) == 0);
    REQUIRE(s.close());
}

/// Caps the soft RLIMIT_NOFILE at `soft` descriptors (below what is open is fine: new ones
/// then fail with EMFILE) and puts the old limits back on scope exit. The test fails if the
/// kernel refuses.
class descriptor_cap {
public:
    explicit descriptor_cap(rlim_t soft) {
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
        rlimit capped = saved_;
        capped.rlim_cur = soft;
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &capped) == 0);
    }
    descriptor_cap(const descriptor_cap&) = delete;
    descriptor_cap& operator=(const descriptor_cap&) = delete;
    ~descriptor_cap() { (void)::setrlimit(RLIMIT_NOFILE, &saved_); }

private:
    rlimit saved_{};
};

}  // namespace corio_test
