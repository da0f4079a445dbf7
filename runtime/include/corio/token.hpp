// SPDX-License-Identifier: MIT
// token: names one registration in a reactor, safe against descriptor reuse.
#pragma once

#include <cstdint>

namespace corio {

/// A registration's slot index plus a generation. The reactor drops events whose
/// generation is stale, so an fd closed and reused within one batch is never confused.
struct token {
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;  ///< 0 is never a live generation: a default token is empty

    constexpr bool valid() const noexcept { return generation != 0; }
    constexpr std::uint64_t pack() const noexcept {
        return (static_cast<std::uint64_t>(generation) << 32) | slot;
    }
    static constexpr token unpack(std::uint64_t v) noexcept {
        return {static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v >> 32)};
    }
    friend constexpr bool operator==(token, token) = default;
};

}  // namespace corio
