// SPDX-License-Identifier: MIT
// sync_lock: the small spinlock that guards a synchronisation primitive's state and wait list.
#pragma once

#include <atomic>
#include <thread>

namespace corio::detail {

/// A test-and-test-and-set spinlock held for a few dozen instructions at a time (never across a
/// suspension). Chosen over std::mutex because an uncontended lock+unlock is one atomic exchange
/// and a release store (bench/micro/sync_bench.cpp: corio::mutex lock+unlock, which takes it
/// twice, against std::mutex in the same run).
class sync_lock {
public:
    void lock() noexcept {
        for (unsigned spins = 0;; ++spins) {
            if (!locked_.exchange(true, std::memory_order_acquire)) {
                return;
            }
            while (locked_.load(std::memory_order_relaxed)) {
                // The holder may have been preempted (2 cores, many threads): let it run.
                if (++spins > 64) {
                    std::this_thread::yield();
                }
            }
        }
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
};

}  // namespace corio::detail
