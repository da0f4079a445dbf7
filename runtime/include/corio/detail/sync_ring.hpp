// SPDX-License-Identifier: MIT
// sync_ring: the FIFO of items a channel holds, allocated once at its capacity.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace corio::detail {

/// A ring buffer of T. It grows only when an item goes back to the front of a full ring (a
/// receiver destroyed with an item already handed to it); push_back/pop_front never allocate
/// once it is built.
template <class T>
class sync_ring {
public:
    explicit sync_ring(std::size_t capacity) : cap_(capacity ? capacity : 1) {
        buf_ = alloc_.allocate(cap_);
    }
    sync_ring(const sync_ring&) = delete;
    sync_ring& operator=(const sync_ring&) = delete;
    ~sync_ring() {
        while (size_) {
            (void)pop_front();
        }
        alloc_.deallocate(buf_, cap_);
    }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    template <class U>
    void push_back(U&& v) {
        grow_if_full();
        std::construct_at(buf_ + index(size_), std::forward<U>(v));
        ++size_;
    }
    void push_front(T&& v) {
        grow_if_full();
        const std::size_t at = head_ ? head_ - 1 : cap_ - 1;
        std::construct_at(buf_ + at, std::move(v));
        head_ = at;
        ++size_;
    }
    T pop_front() {
        T* slot = buf_ + head_;
        T v = std::move(*slot);
        std::destroy_at(slot);
        head_ = index(1);
        --size_;
        return v;
    }

private:
    std::size_t index(std::size_t i) const noexcept {
        const std::size_t at = head_ + i;
        return at < cap_ ? at : at - cap_;
    }
    void grow_if_full() {
        if (size_ < cap_) {
            return;
        }
        const std::size_t cap = cap_ * 2;
        T* next = alloc_.allocate(cap);
        for (std::size_t i = 0; i < size_; ++i) {
            T* from = buf_ + index(i);
            std::construct_at(next + i, std::move(*from));
            std::destroy_at(from);
        }
        alloc_.deallocate(buf_, cap_);
        buf_ = next;
        cap_ = cap;
        head_ = 0;
    }

    std::allocator<T> alloc_;
    std::size_t cap_;
    T* buf_ = nullptr;
    std::size_t head_ = 0;  // index of the first item
    std::size_t size_ = 0;
};

}  // namespace corio::detail
