// SPDX-License-Identifier: MIT
// Tests for corio::detail::timer_queue at the ends of the clock's range: deadlines at and near
// time_point::min() and max(), and queues that start there. Under UBSan, overflow fails them.
#include <corio/detail/timer_queue.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace {

using corio::detail::timer_node;
using corio::detail::timer_queue;
using corio::detail::timer_time;
using namespace std::chrono_literals;

constexpr timer_time lowest = timer_time::min();
constexpr timer_time highest = timer_time::max();

// Appends its index to `order` when it fires.
struct marker : timer_node {
    int index = 0;
    std::vector<int>* order = nullptr;
};

std::vector<marker> markers(const std::vector<timer_time>& deadlines, std::vector<int>& order) {
    std::vector<marker> ms(deadlines.size());
    for (std::size_t i = 0; i < deadlines.size(); ++i) {
        ms[i].index = static_cast<int>(i);
        ms[i].order = &order;
        ms[i].deadline = deadlines[i];
        ms[i].fire = [](timer_node* n) {
            auto* m = static_cast<marker*>(n);
            m->order->push_back(m->index);
        };
    }
    return ms;
}

// The indices of the deadlines <= now, in the order a timer queue must fire them: by deadline,
// ties in insertion (index) order.
std::vector<int> due_order(const std::vector<timer_time>& deadlines, timer_time now) {
    std::vector<int> due;
    for (std::size_t i = 0; i < deadlines.size(); ++i) {
        if (deadlines[i] <= now) {
            due.push_back(static_cast<int>(i));
        }
    }
    std::stable_sort(due.begin(), due.end(), [&](int a, int b) {
        return deadlines[static_cast<std::size_t>(a)] < deadlines[static_cast<std::size_t>(b)];
    });
    return due;
}

TEST_CASE("timer_queue orders and fires deadlines from time_point::min() to max()") {
    // Queues starting at either end of the range and in between.
    const timer_time start = GENERATE(lowest, lowest + 1ns, timer_time{}, timer_time{} + 1000h,
                                      highest - 1ns, highest);
    CAPTURE(start.time_since_epoch().count());
    timer_queue q(start);
    std::vector<int> order;
    const std::vector<timer_time> deadlines = {highest, highest - 1ns, start, lowest + 1ns, lowest};
    std::vector<marker> ms = markers(deadlines, order);
    for (marker& m : ms) {
        q.insert(m);
    }
    REQUIRE(q.next_deadline() == lowest);
    for (const timer_time now : {start, highest - 1ns, highest}) {
        if (now < start) {
            continue;  // expire()'s now never goes back
        }
        q.expire(now);
        CHECK(order == due_order(deadlines, now));
    }
    CHECK(q.empty());
    CHECK_FALSE(q.next_deadline());
}

TEST_CASE("timer_queue: a deadline at time_point::max() is pending until expire(max())") {
    timer_queue q(timer_time{} + 1h);
    std::vector<int> order;
    std::vector<marker> ms = markers({highest, highest - 1ns}, order);
    q.insert(ms[0]);
    q.insert(ms[1]);
    q.expire(timer_time{} + 1h);
    q.expire(highest - 2ns);
    CHECK(order.empty());
    CHECK(q.next_deadline() == highest - 1ns);
    q.expire(highest - 1ns);
    CHECK(order == std::vector<int>{1});
    q.expire(highest);
    CHECK(order == std::vector<int>{1, 0});
}

}  // namespace
