// SPDX-License-Identifier: MIT
// Tests for corio/channel.hpp: order, capacity, rendezvous, close, cancellation, teardown.
#include <corio/channel.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;

TEST_CASE("try_send queues up to the capacity; try_recv returns the items in order") {
    corio::channel<int> ch(2);
    CHECK(ch.try_send(1));
    CHECK(ch.try_send(2));
    CHECK(ch.try_send(3).error() == std::errc::resource_unavailable_try_again);
    CHECK(ch.size() == 2);
    CHECK(ch.try_recv().value() == 1);
    CHECK(ch.try_recv().value() == 2);
    CHECK(ch.try_recv().error() == std::errc::resource_unavailable_try_again);
}

corio::task<void> receive_n(corio::channel<int>& ch, int n, std::vector<int>& got) {
    for (int i = 0; i < n; ++i) {
        auto r = co_await ch.recv();
        REQUIRE(r);
        got.push_back(*r);
    }
}

corio::task<std::size_t> send_past_capacity(corio::channel<int>& ch, std::vector<int>& got) {
    corio::spawn(receive_n(ch, 5, got));
    std::size_t most_queued = 0;
    for (int i = 1; i <= 5; ++i) {
        auto r = co_await ch.send(int{i});
        REQUIRE(r);
        most_queued = std::max(most_queued, ch.size());
    }
    co_await corio::yield{};
    co_return most_queued;
}

TEST_CASE("send waits while the channel is full; recv waits while it is empty; order is kept") {
    corio::runtime rt;
    corio::channel<int> ch(1);
    std::vector<int> got;
    CHECK(rt.block_on(send_past_capacity(ch, got)) <= 1);
    CHECK(got == std::vector<int>{1, 2, 3, 4, 5});
}

corio::task<std::vector<std::error_code>> close_with_waiters(corio::channel<std::string>& ch,
                                                             std::string& kept) {
    std::vector<std::error_code> errors(2);
    corio::spawn([](corio::channel<std::string>& c, std::string& v,
                    std::error_code& out) -> corio::task<void> {
        out = (co_await c.send(std::move(v))).error();  // the channel is full: waits
    }(ch, kept, errors[0]));
    co_await corio::yield{};
    ch.close();
    co_await corio::yield{};
    auto first = co_await ch.recv();  // queued before the close: still delivered
    REQUIRE(first);
    CHECK(*first == "queued");
    errors[1] = (co_await ch.recv()).error();
    co_return errors;
}

TEST_CASE("close: a waiting send fails and keeps its value; recv drains, then reports closed") {
    corio::runtime rt;
    corio::channel<std::string> ch(1);
    REQUIRE(ch.try_send(std::string("queued")));
    std::string kept = "kept";
    const auto errors = rt.block_on(close_with_waiters(ch, kept));
    CHECK(errors[0] == corio::errc::closed);
    CHECK(kept == "kept");  // not moved from
    CHECK(errors[1] == corio::errc::closed);
    std::string later = "later";
    CHECK(ch.try_send(std::move(later)).error() == corio::errc::closed);
    CHECK(later == "later");
    CHECK(ch.is_closed());
}

corio::task<void> recv_error(corio::channel<int>& ch, std::error_code& out) {
    out = (co_await ch.recv()).error();
}

corio::task<void> close_waiting_receivers(corio::channel<int>& ch, std::vector<std::error_code>& out) {
    corio::spawn(recv_error(ch, out[0]));
    corio::spawn(recv_error(ch, out[1]));
    co_await corio::yield{};
    ch.close();
    co_await corio::yield{};
}

TEST_CASE("close wakes every waiting receiver with errc::closed") {
    corio::runtime rt;
    corio::channel<int> ch(4);
    std::vector<std::error_code> out(2);
    rt.block_on(close_waiting_receivers(ch, out));
    CHECK(out[0] == corio::errc::closed);
    CHECK(out[1] == corio::errc::closed);
}

corio::task<bool> rendezvous(corio::channel<int>& ch, std::vector<int>& got) {
    CHECK(ch.try_send(7).error() == std::errc::resource_unavailable_try_again);
    corio::spawn(receive_n(ch, 2, got));
    co_await corio::yield{};  // the receiver waits now
    CHECK(ch.try_send(8));    // handed straight to it
    auto sent = co_await ch.send(9);  // waits until the receiver takes it
    co_return static_cast<bool>(sent) && got.size() == 2;
}

TEST_CASE("capacity 0 is a rendezvous: a send completes only when a receiver takes the item") {
    corio::runtime rt;
    corio::channel<int> ch(0);
    std::vector<int> got;
    CHECK(rt.block_on(rendezvous(ch, got)));
    CHECK(got == std::vector<int>{8, 9});
    CHECK(ch.size() == 0);
}

corio::task<void> cancel_both_ways(corio::channel<std::string>& ch, std::vector<std::error_code>& out,
                                   std::string& unsent) {
    std::stop_source recv_stop;
    std::stop_source send_stop;
    // Empty channel: a recv waits; cancel it.
    corio::spawn([](corio::channel<std::string>& c, std::stop_token t,
                    std::error_code& e) -> corio::task<void> {
        e = (co_await c.recv(std::move(t))).error();
    }(ch, recv_stop.get_token(), out[0]));
    co_await corio::yield{};
    recv_stop.request_stop();
    co_await corio::yield{};
    REQUIRE(ch.try_send(std::string("first")));  // fills it; nobody consumed anything
    // Full channel: a send waits; cancel it.
    corio::spawn([](corio::channel<std::string>& c, std::string& v, std::stop_token t,
                    std::error_code& e) -> corio::task<void> {
        e = (co_await c.send(std::move(v), std::move(t))).error();
    }(ch, unsent, send_stop.get_token(), out[1]));
    co_await corio::yield{};
    send_stop.request_stop();
    co_await corio::yield{};
}

TEST_CASE("a cancelled recv consumes nothing; a cancelled send enqueues nothing, moves nothing") {
    corio::runtime rt;
    corio::channel<std::string> ch(1);
    std::vector<std::error_code> out(2);
    std::string unsent = "unsent";
    rt.block_on(cancel_both_ways(ch, out, unsent));
    CHECK(out[0] == std::errc::operation_canceled);
    CHECK(out[1] == std::errc::operation_canceled);
    CHECK(unsent == "unsent");
    CHECK(ch.try_recv().value() == "first");
    CHECK(ch.try_recv().error() == std::errc::resource_unavailable_try_again);
}

corio::task<std::error_code> recv_with_timeout(corio::channel<int>& ch, std::error_code& inner) {
    auto r = co_await corio::with_timeout(0ms, recv_error(ch, inner));
    co_return r.error();
}

TEST_CASE("with_timeout cancels a waiting recv through the ambient token") {
    corio::runtime rt;
    corio::channel<int> ch(1);
    std::error_code inner;
    CHECK(rt.block_on(recv_with_timeout(ch, inner)) == std::errc::timed_out);
    CHECK(inner == std::errc::operation_canceled);
    CHECK(ch.try_send(1));
    CHECK(ch.try_recv().value() == 1);
}

corio::task<void> recv_forever(corio::channel<int>& ch, bool& got) {
    auto r = co_await ch.recv();
    got = static_cast<bool>(r);
}

corio::task<void> hand_over_then_stop(corio::runtime& rt, corio::channel<int>& ch, bool& got) {
    corio::spawn(recv_forever(ch, got));
    co_await corio::yield{};
    REQUIRE(ch.try_send(42));  // handed to the receiver, which has not resumed yet
    REQUIRE(ch.try_send(43));
    rt.stop();
    co_await corio::yield{};
}

TEST_CASE("an item handed to a receiver destroyed before it resumed goes back to the front") {
    corio::channel<int> ch(1);  // outlives the runtime
    bool got = false;
    {
        corio::runtime rt;
        CHECK_THROWS_AS(rt.block_on(hand_over_then_stop(rt, ch, got)), std::system_error);
    }
    CHECK_FALSE(got);
    CHECK(ch.try_recv().value() == 42);
    CHECK(ch.try_recv().value() == 43);
}

corio::task<int> move_only_round_trip(corio::channel<std::unique_ptr<int>>& ch) {
    corio::spawn([](corio::channel<std::unique_ptr<int>>& c) -> corio::task<void> {
        (void)co_await c.send(std::make_unique<int>(5));
    }(ch));
    auto r = co_await ch.recv();
    co_return **r;
}

TEST_CASE("a channel carries move-only items") {
    corio::runtime rt;
    corio::channel<std::unique_ptr<int>> ch(0);
    CHECK(rt.block_on(move_only_round_trip(ch)) == 5);
}

}  // namespace
