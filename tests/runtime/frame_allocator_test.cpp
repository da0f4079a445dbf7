// SPDX-License-Identifier: MIT
// Tests for corio/detail/frame_allocator.hpp: usable blocks of every size, reuse of freed blocks.
#include <corio/detail/frame_allocator.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace {

using corio::detail::frame_allocate;
using corio::detail::frame_deallocate;

// ASan builds turn the cache off so that every frame is a heap block ASan can watch.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool frame_cache_enabled = false;
#else
constexpr bool frame_cache_enabled = true;
#endif

struct block {
    void* p;
    std::size_t size;
};

// A byte pattern per block, so that blocks that overlap (or are too small) corrupt each other.
unsigned char pattern_of(std::size_t i) { return static_cast<unsigned char>(i % 251 + 1); }

TEST_CASE("frame_allocate returns separate, aligned blocks of at least the size asked for") {
    std::vector<block> blocks;
    for (std::size_t size = 1; size <= 4200; size += 7) {
        void* p = frame_allocate(size);
        REQUIRE(p != nullptr);
        CHECK(reinterpret_cast<std::uintptr_t>(p) % __STDCPP_DEFAULT_NEW_ALIGNMENT__ == 0);
        std::memset(p, pattern_of(blocks.size()), size);
        blocks.push_back({p, size});
    }
    std::size_t intact = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        const auto* bytes = static_cast<const unsigned char*>(blocks[i].p);
        bool ok = true;
        for (std::size_t j = 0; j < blocks[i].size; ++j) {
            ok = ok && bytes[j] == pattern_of(i);
        }
        intact += ok ? 1 : 0;
    }
    CHECK(intact == blocks.size());
    for (const block& b : blocks) {
        frame_deallocate(b.p, b.size);
    }
}

TEST_CASE("a freed frame is reused for the next frame of its size class") {
    if (!frame_cache_enabled) {
        SUCCEED("the frame cache is off under sanitizers");
        return;
    }
    void* a = frame_allocate(100);
    frame_deallocate(a, 100);
    void* b = frame_allocate(100);
    CHECK(b == a);
    frame_deallocate(b, 100);
    // A size a few bytes off rounds to the same class, so the block serves it too.
    void* c = frame_allocate(104);
    CHECK(c == a);
    // A different class does not take it.
    void* d = frame_allocate(300);
    CHECK(d != a);
    frame_deallocate(d, 300);
    frame_deallocate(c, 104);
}

TEST_CASE("in steady state, freed frames are handed out again, most recent first") {
    if (!frame_cache_enabled) {
        SUCCEED("the frame cache is off under sanitizers");
        return;
    }
    std::vector<void*> first;
    for (int i = 0; i < 64; ++i) {
        first.push_back(frame_allocate(200));
    }
    for (void* p : first) {
        frame_deallocate(p, 200);
    }
    std::set<void*> reused;
    for (int i = 0; i < 64; ++i) {
        void* p = frame_allocate(200);
        CHECK(p == first[first.size() - 1 - static_cast<std::size_t>(i)]);
        reused.insert(p);
    }
    for (void* p : reused) {
        frame_deallocate(p, 200);
    }
}

TEST_CASE("a frame freed on another thread is given back without disturbing this one") {
    void* p = frame_allocate(256);
    std::memset(p, 0, 256);
    std::thread([p] { frame_deallocate(p, 256); }).join();
    // The block joined the other thread's cache, which went back to the heap when that thread
    // ended; this thread's own cache still hands out usable blocks.
    void* q = frame_allocate(256);
    std::memset(q, 1, 256);
    frame_deallocate(q, 256);
}

}  // namespace
