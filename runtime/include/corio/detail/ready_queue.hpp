// SPDX-License-Identifier: MIT
// A growable ring of coroutine handles: the scheduler's run queue, no allocation once grown.
#pragma once

#include <coroutine>
#include <cstddef>
#include <memory>

namespace corio::detail {

class ready_queue {
public:
    bool empty() const noexcept { return head_ == tail_; }
    std::size_t size() const noexcept { return tail_ - head_; }

    void push(std::coroutine_handle<> h) {
        if (size() == capacity_) {
            grow();
        }
        buf_[tail_++ & (capacity_ - 1)] = h;
    }
    std::coroutine_handle<> pop() noexcept { return buf_[head_++ & (capacity_ - 1)]; }

    /// Replaces a queued handle with a no-op (its frame is being destroyed). O(n); rare.
    void erase(std::coroutine_handle<> h) noexcept {
        for (std::size_t i = head_; i != tail_; ++i) {
            auto& slot = buf_[i & (capacity_ - 1)];
            if (slot == h) {
                slot = std::noop_coroutine();
            }
        }
    }
    void clear() noexcept { head_ = tail_ = 0; }

private:
    void grow() {
        const std::size_t cap = capacity_ ? capacity_ * 2 : 64;
        auto next = std::make_unique<std::coroutine_handle<>[]>(cap);
        for (std::size_t i = 0, n = size(); i < n; ++i) {
            next[i] = buf_[(head_ + i) & (capacity_ - 1)];
        }
        tail_ = size();
        head_ = 0;
        buf_ = std::move(next);
        capacity_ = cap;
    }

    std::unique_ptr<std::coroutine_handle<>[]> buf_;
    std::size_t capacity_ = 0;  // a power of two
    std::size_t head_ = 0;      // positions grow without bound; masked on access
    std::size_t tail_ = 0;
};

}  // namespace corio::detail
