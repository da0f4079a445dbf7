// SPDX-License-Identifier: MIT
// read_to_end and write_all over any corio byte stream (pipes, a child's stdio), for tests.
#pragma once

#include <corio/result.hpp>
#include <corio/stream.hpp>
#include <corio/task.hpp>

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace corio_test {

/// Everything `s` yields until end of stream, or the first error.
template <corio::async_read_stream S>
corio::task<corio::result<std::string>> read_to_end(S& s) {
    std::string out;
    std::array<std::byte, 16384> buf;
    for (;;) {
        auto n = co_await s.recv(buf, {});
        if (!n) {
            co_return n.error();
        }
        if (*n == 0) {
            co_return out;
        }
        out.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
}

/// Sends all of `text` (several sends when the stream takes part of it), then, if `close`,
/// shuts the sending direction down. Returns the first error.
template <corio::async_write_stream S>
corio::task<corio::result<void>> write_all(S& s, std::string_view text, bool close = true) {
    auto rest = std::as_bytes(std::span(text.data(), text.size()));
    while (!rest.empty()) {
        auto n = co_await s.send(rest, {});
        if (!n) {
            co_return n.error();
        }
        rest = rest.subspan(*n);
    }
    if (close) {
        co_return s.shutdown(corio::shutdown_how::send);
    }
    co_return corio::result<void>();
}

/// `n` bytes of a pattern that does not repeat every power of two (a lost or doubled chunk
/// shows up as a mismatch).
inline std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
    }
    return s;
}

}  // namespace corio_test
