// SPDX-License-Identifier: MIT
// Size-class free lists per thread; the lists are returned to the heap when the thread exits,
// and frames freed after that (by later thread_local destructors) go straight to the heap.
#include <corio/detail/frame_allocator.hpp>

#include <array>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define CORIO_FRAME_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CORIO_FRAME_CACHE 0
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#undef CORIO_FRAME_CACHE
#define CORIO_FRAME_CACHE 0
#endif
#ifndef CORIO_FRAME_CACHE
#define CORIO_FRAME_CACHE 1
#endif

namespace corio::detail {
namespace {

// 16-byte classes: a frame wastes at most 15 bytes, which matters when 10,000 idle
// connections each hold one.
constexpr std::size_t granule = 16;
constexpr std::size_t class_count = 128;  // classes of 16 B .. 2 KiB
// Bounds what one thread hoards after a burst (e.g. 10,000 connections closing at once).
constexpr std::size_t max_cached_per_class = 16384;

struct free_block {
    free_block* next;
};

// What a thread's cache is doing. A thread_local runtime, or any frame owner destroyed at thread
// exit, may free frames after the cleanup below has run (thread_local destructors run in reverse
// order of construction, and the cleanup is built after the runtime): those must go to the heap,
// not to lists nobody will free again.
enum class cache_state : unsigned char { unused, live, dead };

// constinit and trivially destructible, so access needs no TLS guard on the hot path, and it
// stays usable while other thread_local destructors run; the cleanup object below is touched
// only when the first block is cached.
struct frame_cache {
    std::array<free_block*, class_count> heads;
    std::array<std::size_t, class_count> counts;
    cache_state state;
};
constinit thread_local frame_cache cache{};

struct frame_cache_cleanup {
    ~frame_cache_cleanup() {
        cache.state = cache_state::dead;
        for (std::size_t c = 0; c < class_count; ++c) {
            while (free_block* b = cache.heads[c]) {
                cache.heads[c] = b->next;
                ::operator delete(b);
            }
            cache.counts[c] = 0;
        }
    }
};

std::size_t size_class(std::size_t size) noexcept { return (size + granule - 1) / granule - 1; }

}  // namespace

void* frame_allocate(std::size_t size) {
    if (CORIO_FRAME_CACHE) {
        const std::size_t c = size_class(size);
        if (c < class_count) {
            if (free_block* b = cache.heads[c]) {
                cache.heads[c] = b->next;
                --cache.counts[c];
                return b;
            }
            return ::operator new((c + 1) * granule);
        }
    }
    return ::operator new(size);
}

void frame_deallocate(void* p, std::size_t size) noexcept {
    if (CORIO_FRAME_CACHE) {
        const std::size_t c = size_class(size);
        if (c < class_count && cache.counts[c] < max_cached_per_class &&
            cache.state != cache_state::dead) {
            if (cache.state == cache_state::unused) {
                cache.state = cache_state::live;
                static thread_local frame_cache_cleanup cleanup;
                (void)cleanup;
            }
            auto* b = static_cast<free_block*>(p);
            b->next = cache.heads[c];
            cache.heads[c] = b;
            ++cache.counts[c];
            return;
        }
    }
    ::operator delete(p);
}

}  // namespace corio::detail
