// SPDX-License-Identifier: MIT
// pooled_buffer: a receive buffer borrowed from a per-thread pool only while it holds data.
#pragma once

#include <cstddef>
#include <span>
#include <utility>

namespace corio {

namespace detail {
/// Bytes per pooled buffer: large enough that a bulk stream needs few recv calls.
inline constexpr std::size_t pooled_buffer_size = 16 * 1024;
std::byte* pool_take();
void pool_give(std::byte* p) noexcept;
}  // namespace detail

/// A buffer from this thread's pool holding `size()` received bytes; goes back on destruction.
/// Move-only. May be destroyed on any thread (it then joins that thread's pool), also while the
/// thread exits: once the pool was freed, it goes straight to the heap.
class pooled_buffer {
public:
    pooled_buffer() noexcept = default;
    pooled_buffer(std::byte* storage, std::size_t size) noexcept : data_(storage), size_(size) {}
    pooled_buffer(pooled_buffer&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    pooled_buffer& operator=(pooled_buffer&& o) noexcept {
        if (this != &o) {
            reset();
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ~pooled_buffer() { reset(); }

    /// The received bytes.
    std::span<std::byte> bytes() const noexcept { return {data_, size_}; }
    std::byte* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    static constexpr std::size_t capacity() noexcept { return detail::pooled_buffer_size; }

    void reset() noexcept {
        if (data_) {
            detail::pool_give(std::exchange(data_, nullptr));
        }
        size_ = 0;
    }

private:
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace corio
