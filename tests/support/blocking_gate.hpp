// SPDX-License-Identifier: MIT
// blocking_gate: what a blocking call on a pool thread waits at until the test lets it through;
// and the other helpers of the blocking pool's tests.
#pragma once

#include <corio/runtime.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <condition_variable>
#include <mutex>

namespace corio_test {

/// A count that threads wait on until it reaches a target, with a bound, so that a bug fails
/// the test (the wait returns false) instead of hanging it. open() is reach(1) on a fresh gate.
class blocking_gate {
public:
    /// The bound of every wait: far above what any wait takes in a passing run.
    static constexpr std::chrono::seconds bound{20};

    void open() { add(1); }
    void add(int n) {
        {
            std::lock_guard lock(mutex_);
            count_ += n;
        }
        changed_.notify_all();
    }
    /// Blocks until the count is at least `target`; false if `bound` passed first.
    bool wait(int target = 1) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, bound, [&] { return count_ >= target; });
    }
    int count() {
        std::lock_guard lock(mutex_);
        return count_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int count_ = 0;
};

/// Counts its live instances (copies and moves too) in a counter any thread may touch.
class tracked {
public:
    explicit tracked(std::atomic<int>& live) noexcept : live_(&live) { live_->fetch_add(1); }
    tracked(const tracked& o) noexcept : live_(o.live_) { live_->fetch_add(1); }
    tracked& operator=(const tracked&) = delete;
    ~tracked() { live_->fetch_sub(1); }

private:
    std::atomic<int>* live_;
};

/// Runtime options with a pool of `n` blocking threads.
inline corio::runtime_options with_blocking_threads(std::size_t n) {
    corio::runtime_options options;
    options.blocking_threads = n;
    return options;
}

}  // namespace corio_test
