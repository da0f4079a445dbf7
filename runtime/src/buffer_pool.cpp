// SPDX-License-Identifier: MIT
// The per-thread free list behind pooled_buffer.
#include <corio/buffer_pool.hpp>

#include <new>

namespace corio::detail {
namespace {

// Enough for a busy thread's buffers in flight; beyond this, freed buffers go to the heap.
constexpr std::size_t max_pooled = 1024;

struct free_buffer {
    free_buffer* next;
};
struct pool {
    free_buffer* head = nullptr;
    std::size_t count = 0;
    ~pool() {
        while (head) {
            free_buffer* b = head;
            head = b->next;
            ::operator delete(b, std::align_val_t{64});
        }
    }
};
thread_local pool buffers;

}  // namespace

std::byte* pool_take() {
    if (free_buffer* b = buffers.head) {
        buffers.head = b->next;
        --buffers.count;
        return reinterpret_cast<std::byte*>(b);
    }
    return static_cast<std::byte*>(::operator new(pooled_buffer_size, std::align_val_t{64}));
}

void pool_give(std::byte* p) noexcept {
    if (buffers.count < max_pooled) {
        auto* b = reinterpret_cast<free_buffer*>(p);
        b->next = buffers.head;
        buffers.head = b;
        ++buffers.count;
        return;
    }
    ::operator delete(p, std::align_val_t{64});
}

}  // namespace corio::detail
