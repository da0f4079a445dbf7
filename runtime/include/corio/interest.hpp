// SPDX-License-Identifier: MIT
// interest (what a caller wants to be told about) and readiness (what the kernel reported).
#pragma once

#include <cstdint>

namespace corio {

/// The directions a registration watches: read, write or both. corio's own values,
/// never the kernel's (EPOLLIN etc. stay inside the backends).
enum class interest : std::uint8_t { none = 0, read = 1, write = 2, read_write = 3 };

constexpr interest operator|(interest a, interest b) noexcept {
    return static_cast<interest>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr interest operator&(interest a, interest b) noexcept {
    return static_cast<interest>(static_cast<std::uint8_t>(a) & static_cast<std::uint8_t>(b));
}
constexpr interest without(interest a, interest b) noexcept {
    return static_cast<interest>(static_cast<std::uint8_t>(a) & ~static_cast<std::uint8_t>(b));
}
constexpr bool contains(interest a, interest b) noexcept { return (a & b) == b; }

/// What one event reported for a descriptor. Error and hang-up also set readable and
/// writable, so whoever waits retries its system call and learns the real error from it.
struct readiness {
    static constexpr std::uint8_t readable = 1;
    static constexpr std::uint8_t writable = 2;
    static constexpr std::uint8_t hangup = 4;  ///< peer closed (EPOLLHUP/EPOLLRDHUP, EV_EOF)
    static constexpr std::uint8_t error = 8;   ///< the descriptor has a pending error
    /// The registration is gone: its descriptor was closed without reactor::remove() and the
    /// number now names another file (reported once, by reactor::add or claim, with error).
    static constexpr std::uint8_t stale = 16;

    std::uint8_t bits = 0;

    constexpr bool is_readable() const noexcept { return bits & readable; }
    constexpr bool is_writable() const noexcept { return bits & writable; }
    constexpr bool is_hangup() const noexcept { return bits & hangup; }
    constexpr bool is_error() const noexcept { return bits & error; }
    constexpr bool is_stale() const noexcept { return bits & stale; }
    constexpr bool any(interest i) const noexcept {
        return (bits & static_cast<std::uint8_t>(i)) != 0;
    }
};

}  // namespace corio
