// SPDX-License-Identifier: MIT
// Tests for corio/buffer_pool.hpp: pooled_buffer ownership, and reuse of returned buffers.
#include <corio/buffer_pool.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstring>
#include <thread>
#include <type_traits>
#include <utility>

namespace {

TEST_CASE("a pooled buffer holds its bytes and its full capacity is writable") {
    std::byte* storage = corio::detail::pool_take();
    std::memset(storage, 0x5A, corio::pooled_buffer::capacity());
    corio::pooled_buffer b(storage, 10);
    CHECK(b.size() == 10);
    CHECK_FALSE(b.empty());
    CHECK(b.data() == storage);
    CHECK(b.bytes().size() == 10);
    CHECK(b.bytes()[9] == std::byte{0x5A});
    CHECK(corio::pooled_buffer::capacity() == corio::detail::pooled_buffer_size);
}

TEST_CASE("a pooled buffer is move-only and a move leaves the source empty") {
    STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<corio::pooled_buffer>);
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<corio::pooled_buffer>);
    corio::pooled_buffer a(corio::detail::pool_take(), 4);
    std::byte* storage = a.data();
    corio::pooled_buffer b = std::move(a);
    CHECK(a.data() == nullptr);
    CHECK(a.empty());
    CHECK(b.data() == storage);
    CHECK(b.size() == 4);
    corio::pooled_buffer c;
    c = std::move(b);
    CHECK(b.data() == nullptr);
    CHECK(c.data() == storage);
}

TEST_CASE("a buffer given back is the next one taken on the same thread") {
    corio::pooled_buffer a(corio::detail::pool_take(), 1);
    std::byte* storage = a.data();
    a.reset();
    CHECK(a.data() == nullptr);
    CHECK(a.empty());
    std::byte* again = corio::detail::pool_take();
    CHECK(again == storage);
    corio::pooled_buffer owner(again, 0);
}

TEST_CASE("a pooled buffer destroyed on another thread is freed there") {
    corio::pooled_buffer a(corio::detail::pool_take(), 8);
    std::thread([b = std::move(a)]() mutable { b.reset(); }).join();
    CHECK(a.data() == nullptr);
}

}  // namespace
