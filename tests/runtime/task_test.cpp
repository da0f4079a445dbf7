// SPDX-License-Identifier: MIT
// Tests for corio/task.hpp: results, exceptions, laziness, ownership and symmetric transfer.
#include <corio/task.hpp>

#include <catch2/catch.hpp>

#include <corio/error.hpp>
#include <corio/runtime.hpp>

#include "support/live_counter.hpp"

#include <cstddef>
#include <cstdint>
#include <coroutine>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace {

struct test_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

corio::task<int> forty_two() { co_return 42; }

corio::task<int> add_one_to(corio::task<int> t) { co_return co_await std::move(t) + 1; }

corio::task<void> set_true(bool& flag) {
    flag = true;
    co_return;
}

corio::task<int&> reference_to(int& x) { co_return x; }

corio::task<std::unique_ptr<int>> boxed(int v) { co_return std::make_unique<int>(v); }

corio::task<int> throw_int(std::string what) {
    throw test_error(what);
    co_return 0;
}

corio::task<void> throw_void(std::string what) {
    throw test_error(what);
    co_return;
}

corio::task<void> throw_after_yield(std::string what) {
    co_await corio::yield{};
    throw test_error(what);
}

// What the awaiting task saw: the message of the exception it caught, or "" if none came.
corio::task<std::string> catch_from(corio::task<void> t) {
    std::string caught;
    try {
        co_await std::move(t);
    } catch (const test_error& e) {
        caught = e.what();
    }
    co_return caught;
}

TEST_CASE("task<int> hands its value to the awaiting task") {
    corio::runtime rt;
    CHECK(rt.block_on(add_one_to(forty_two())) == 43);
}

TEST_CASE("task<void> completes for its awaiter") {
    corio::runtime rt;
    bool ran = false;
    rt.block_on(set_true(ran));
    CHECK(ran);
}

TEST_CASE("task<T&> hands back a reference to the very object returned") {
    corio::runtime rt;
    int x = 7;
    int& r = rt.block_on(reference_to(x));
    CHECK(&r == &x);
    r = 8;
    CHECK(x == 8);
}

TEST_CASE("task<T> can produce a move-only value") {
    corio::runtime rt;
    std::unique_ptr<int> p = rt.block_on(boxed(5));
    REQUIRE(p);
    CHECK(*p == 5);
}

TEST_CASE("an exception thrown in a task reaches the task awaiting it") {
    corio::runtime rt;
    CHECK(rt.block_on(catch_from(throw_void("inner failure"))) == "inner failure");
}

TEST_CASE("an exception thrown after a suspension reaches the awaiting task") {
    corio::runtime rt;
    CHECK(rt.block_on(catch_from(throw_after_yield("after yield"))) == "after yield");
}

TEST_CASE("block_on rethrows the exception that escaped its task") {
    corio::runtime rt;
    CHECK_THROWS_MATCHES(rt.block_on(throw_int("escaped")), test_error,
                         Catch::Matchers::Message("escaped"));
    CHECK_THROWS_AS(rt.block_on(add_one_to(throw_int("nested"))), test_error);
}

TEST_CASE("a task does not start before it is awaited") {
    corio::runtime rt;
    bool ran = false;
    corio::task<void> t = set_true(ran);
    CHECK_FALSE(ran);
    CHECK(t.valid());
    CHECK_FALSE(t.done());
    rt.block_on(std::move(t));
    CHECK(ran);
}

corio::task<bool> create_yield_then_await(bool& ran) {
    corio::task<void> child = set_true(ran);
    co_await corio::yield{};
    const bool ran_before_await = ran;
    co_await child;
    co_return ran_before_await;
}

TEST_CASE("a task created inside another runs only when awaited, not on the next turn") {
    corio::runtime rt;
    bool ran = false;
    CHECK_FALSE(rt.block_on(create_yield_then_await(ran)));
    CHECK(ran);
}

TEST_CASE("task is move-only and a moved-to task still runs") {
    STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<corio::task<int>>);
    STATIC_REQUIRE_FALSE(std::is_copy_assignable_v<corio::task<int>>);
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<corio::task<int>>);
    STATIC_REQUIRE(std::is_nothrow_move_assignable_v<corio::task<int>>);

    corio::runtime rt;
    corio::task<int> a = forty_two();
    corio::task<int> b = std::move(a);
    CHECK_FALSE(a.valid());
    CHECK(b.valid());
    corio::task<int> c;
    c = std::move(b);
    CHECK(rt.block_on(std::move(c)) == 42);
}

TEST_CASE("block_on of a moved-from task throws usage_error") {
    corio::runtime rt;
    corio::task<int> a = forty_two();
    corio::task<int> b = std::move(a);
    CHECK_THROWS_AS(rt.block_on(std::move(a)), corio::usage_error);
    CHECK(rt.block_on(std::move(b)) == 42);
}

// Returns how many of the two awaits threw usage_error, and the first await's value.
corio::task<std::pair<int, int>> await_twice() {
    corio::task<int> t = forty_two();
    const int first = co_await t;
    int usage_errors = 0;
    try {
        (void)co_await t;
    } catch (const corio::usage_error&) {
        ++usage_errors;
    }
    co_return std::pair{first, usage_errors};
}

TEST_CASE("awaiting a task a second time throws usage_error") {
    corio::runtime rt;
    const auto [first, usage_errors] = rt.block_on(await_twice());
    CHECK(first == 42);
    CHECK(usage_errors == 1);
}

corio::task<int> await_moved_from() {
    corio::task<int> a = forty_two();
    corio::task<int> b = std::move(a);
    int usage_errors = 0;
    try {
        (void)co_await std::move(a);
    } catch (const corio::usage_error&) {
        ++usage_errors;
    }
    co_return usage_errors + co_await std::move(b);
}

TEST_CASE("awaiting a moved-from task throws usage_error") {
    corio::runtime rt;
    CHECK(rt.block_on(await_moved_from()) == 43);
}

corio::task<int> one() { co_return 1; }

// The stack pointer of a frame just below the caller: a deeper call chain gives a lower value.
[[gnu::noinline]] std::uintptr_t stack_position() {
    return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

struct stack_report {
    std::size_t completed = 0;
    std::size_t sum = 0;
    std::uintptr_t growth = 0;  // deepest stack position seen, below the first one
};

// Awaits `n` tasks that finish without suspending. Stops early, instead of overflowing the
// stack, once the stack has grown by `give_up_at`: each await then nests a resume.
corio::task<stack_report> await_many_synchronous(std::size_t n, std::uintptr_t give_up_at) {
    stack_report r;
    const std::uintptr_t base = stack_position();
    while (r.completed < n) {
        r.sum += static_cast<std::size_t>(co_await one());
        ++r.completed;
        const std::uintptr_t here = stack_position();
        if (here < base && base - here > r.growth) {
            r.growth = base - here;
            if (r.growth > give_up_at) {
                break;
            }
        }
    }
    co_return r;
}

TEST_CASE("a million awaits of tasks that finish synchronously do not grow the stack") {
    // Symmetric transfer must be a tail call, or every co_await nests two resume frames and a
    // million of them overflow the stack. g++ emits the tail call at -O2; the asan preset
    // (-O1) is where it would be lost.
    corio::runtime rt;
    constexpr std::size_t n = 1'000'000;
    const stack_report r = rt.block_on(await_many_synchronous(n, 1 << 20));
    CAPTURE(r.completed, r.growth);
    CHECK(r.growth < 4096);
    CHECK(r.completed == n);
    CHECK(r.sum == r.completed);
}

corio::task<void> hold_parameter(corio_test::live_object held) {
    (void)held;
    co_return;
}

TEST_CASE("destroying a task that was never awaited destroys its frame") {
    int live = 0;
    {
        corio::task<void> t = hold_parameter(corio_test::live_object(live));
        CHECK(live == 1);  // the frame's copy of the parameter
    }
    CHECK(live == 0);
}

corio::task<void> suspend_holding(int& live) {
    corio_test::live_object local(live);
    co_await std::suspend_always{};
}

corio::task<void> await_child(corio::task<void> child) { co_await std::move(child); }

TEST_CASE("destroying a suspended task destroys its frame and the child it awaits") {
    int live = 0;
    {
        corio::task<void> t = await_child(suspend_holding(live));
        t.handle().resume();  // runs into the child, which suspends holding its local
        CHECK(live == 1);
        CHECK_FALSE(t.done());
    }
    CHECK(live == 0);
}

}  // namespace
