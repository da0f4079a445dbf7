// SPDX-License-Identifier: MIT
// blocking_pool: the bounded set of threads that runs blocking calls off the runtime's loops.
#pragma once

#include <cstddef>

namespace corio::detail {

/// Threads for calls that would block a loop (getaddrinfo, file I/O, CPU-heavy work); one per
/// runtime, shared by all its loops. Threads start on demand, up to max_threads.
class blocking_pool {
public:
    explicit blocking_pool(std::size_t max_threads) noexcept : max_threads_(max_threads) {}
    blocking_pool(const blocking_pool&) = delete;
    blocking_pool& operator=(const blocking_pool&) = delete;
    ~blocking_pool() = default;

    std::size_t max_threads() const noexcept { return max_threads_; }

private:
    std::size_t max_threads_;
};

}  // namespace corio::detail
