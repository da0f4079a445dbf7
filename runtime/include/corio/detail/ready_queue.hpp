// SPDX-License-Identifier: MIT
// A growable ring of coroutine handles: the scheduler's run queue, no allocation once grown.
// Each handle travels with the root task it runs in (for the stall detector and task dumps).
#pragma once

#include <coroutine>
#include <cstddef>
#include <memory>

namespace corio::detail {

class promise_base;

/// A queued coroutine and the spawned task it belongs to (nullptr if unknown).
struct ready_entry {
    std::coroutine_handle<> handle;
    promise_base* root = nullptr;
};

class ready_queue {
public:
    bool empty() const noexcept { return head_ == tail_; }
    std::size_t size() const noexcept { return tail_ - head_; }

    void push(std::coroutine_handle<> h, promise_base* root = nullptr) {
        if (size() == capacity_) {
            grow();
        }
        buf_[tail_++ & (capacity_ - 1)] = {h, root};
    }
    ready_entry pop() noexcept { return buf_[head_++ & (capacity_ - 1)]; }
    /// Whether a coroutine of task `root` is queued. O(n); for task dumps.
    bool holds(const promise_base* root) const noexcept {
        for (std::size_t i = head_; i != tail_; ++i) {
            if (buf_[i & (capacity_ - 1)].root == root) {
                return true;
            }
        }
        return false;
    }

    /// Replaces a queued handle with a no-op (its frame is being destroyed). O(n); rare.
    void erase(std::coroutine_handle<> h) noexcept {
        for (std::size_t i = head_; i != tail_; ++i) {
            auto& slot = buf_[i & (capacity_ - 1)];
            if (slot.handle == h) {
                slot = {std::noop_coroutine(), nullptr};
            }
        }
    }
    void clear() noexcept { head_ = tail_ = 0; }

private:
    void grow() {
        const std::size_t cap = capacity_ ? capacity_ * 2 : 64;
        auto next = std::make_unique<ready_entry[]>(cap);
        for (std::size_t i = 0, n = size(); i < n; ++i) {
            next[i] = buf_[(head_ + i) & (capacity_ - 1)];
        }
        tail_ = size();
        head_ = 0;
        buf_ = std::move(next);
        capacity_ = cap;
    }

    std::unique_ptr<ready_entry[]> buf_;
    std::size_t capacity_ = 0;  // a power of two
    std::size_t head_ = 0;      // positions grow without bound; masked on access
    std::size_t tail_ = 0;
};

}  // namespace corio::detail
