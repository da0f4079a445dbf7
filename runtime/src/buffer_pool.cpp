// SPDX-License-Identifier: MIT
// The per-thread free list behind pooled_buffer; returned to the heap when the thread exits, and
// buffers given back after that (by later thread_local destructors) go straight to the heap.
#include <corio/buffer_pool.hpp>

#include <new>

namespace corio::detail {
namespace {

// Enough for a busy thread's buffers in flight; beyond this, freed buffers go to the heap.
constexpr std::size_t max_pooled = 1024;

struct free_buffer {
    free_buffer* next;
};

// Trivially destructible and constinit, so it stays usable while thread_local destructors run:
// a thread_local runtime is built before the pool's cleanup below and so destroyed after it,
// and the buffers it gives back then (its ring's, its tasks') must not land in a dead list.
struct pool {
    free_buffer* head;
    std::size_t count;
    bool cleanup_registered;
    bool dead;
};
constinit thread_local pool buffers{};

void release(void* p) noexcept { ::operator delete(p, std::align_val_t{64}); }

struct pool_cleanup {
    ~pool_cleanup() {
        buffers.dead = true;
        while (free_buffer* b = buffers.head) {
            buffers.head = b->next;
            release(b);
        }
        buffers.count = 0;
    }
};

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
    if (buffers.count < max_pooled && !buffers.dead) {
        if (!buffers.cleanup_registered) {
            buffers.cleanup_registered = true;
            static thread_local pool_cleanup cleanup;
            (void)cleanup;
        }
        auto* b = reinterpret_cast<free_buffer*>(p);
        b->next = buffers.head;
        buffers.head = b;
        ++buffers.count;
        return;
    }
    release(p);
}

}  // namespace corio::detail
