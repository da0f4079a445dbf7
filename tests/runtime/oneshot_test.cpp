// SPDX-License-Identifier: MIT
// Tests for corio/oneshot.hpp: send/recv, dropped ends, cancellation, two loops.
#include <corio/oneshot.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/loop_thread.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace {

using namespace std::chrono_literals;

TEST_CASE("a value sent before recv is received at once; a second recv reports closed") {
    auto [tx, rx] = corio::oneshot<std::string>::make();
    CHECK(rx.try_recv().error() == std::errc::resource_unavailable_try_again);
    CHECK(tx.send(std::string("hello")));
    CHECK_THROWS_AS(tx.send(std::string("again")), corio::usage_error);
    CHECK(rx.try_recv().value() == "hello");
    CHECK(rx.try_recv().error() == corio::errc::closed);
}

corio::task<std::string> recv_after_send(corio::oneshot<std::string>::receiver& rx,
                                         corio::oneshot<std::string>::sender& tx) {
    corio::spawn([](corio::oneshot<std::string>::sender& s) -> corio::task<void> {
        (void)s.send(std::string("later"));
        co_return;
    }(tx));
    auto r = co_await rx.recv();
    co_return r.value_or("error");
}

TEST_CASE("recv waits for the value") {
    corio::runtime rt;
    auto [tx, rx] = corio::oneshot<std::string>::make();
    CHECK(rt.block_on(recv_after_send(rx, tx)) == "later");
}

corio::task<void> recv_error(corio::oneshot<int>::receiver& rx, std::error_code& out,
                             std::stop_token t = {}) {
    out = (co_await rx.recv(std::move(t))).error();
}

corio::task<void> drop_sender(std::optional<corio::oneshot<int>::sender>& tx) {
    tx.reset();
    co_return;
}

corio::task<std::error_code> recv_until_dropped(corio::oneshot<int>::receiver& rx,
                                                std::optional<corio::oneshot<int>::sender>& tx) {
    corio::spawn(drop_sender(tx));
    std::error_code out;
    co_await recv_error(rx, out);
    co_return out;
}

TEST_CASE("dropping the sender without sending resumes the receiver with errc::closed") {
    corio::runtime rt;
    auto [tx, rx] = corio::oneshot<int>::make();
    std::optional<corio::oneshot<int>::sender> held(std::move(tx));
    CHECK(rt.block_on(recv_until_dropped(rx, held)) == corio::errc::closed);
}

TEST_CASE("send after the receiver is gone fails and leaves the value with the caller") {
    auto [tx, rx] = corio::oneshot<std::unique_ptr<int>>::make();
    CHECK_FALSE(tx.is_closed());
    { auto gone = std::move(rx); }
    CHECK(tx.is_closed());
    auto v = std::make_unique<int>(3);
    CHECK(tx.send(std::move(v)).error() == corio::errc::closed);
    REQUIRE(v);
    CHECK(*v == 3);
}

corio::task<int> cancel_then_recv(corio::oneshot<int>::receiver& rx, corio::oneshot<int>::sender& tx,
                                  std::error_code& first) {
    std::stop_source stop;
    corio::spawn([](corio::oneshot<int>::receiver& r, std::stop_token t,
                    std::error_code& e) -> corio::task<void> {
        e = (co_await r.recv(std::move(t))).error();
    }(rx, stop.get_token(), first));
    co_await corio::yield{};
    stop.request_stop();
    co_await corio::yield{};
    (void)tx.send(9);
    auto r = co_await rx.recv();  // the cancelled recv consumed nothing
    co_return r.value_or(-1);
}

TEST_CASE("a cancelled recv leaves the value for a later recv") {
    corio::runtime rt;
    auto [tx, rx] = corio::oneshot<int>::make();
    std::error_code first;
    CHECK(rt.block_on(cancel_then_recv(rx, tx, first)) == 9);
    CHECK(first == std::errc::operation_canceled);
}

corio::task<std::error_code> recv_with_timeout(corio::oneshot<int>::receiver& rx,
                                               std::error_code& inner) {
    auto r = co_await corio::with_timeout(0ms, recv_error(rx, inner));
    co_return r.error();
}

TEST_CASE("with_timeout cancels a waiting oneshot recv through the ambient token") {
    corio::runtime rt;
    auto [tx, rx] = corio::oneshot<int>::make();
    std::error_code inner;
    CHECK(rt.block_on(recv_with_timeout(rx, inner)) == std::errc::timed_out);
    CHECK(inner == std::errc::operation_canceled);
    CHECK(tx.send(1));
    CHECK(rx.try_recv().value() == 1);
}

corio::task<void> send_from_other_loop(corio::oneshot<int>::sender tx) {
    (void)tx.send(77);
    co_return;
}

corio::task<std::pair<int, std::thread::id>> recv_here(corio::oneshot<int>::receiver rx) {
    auto r = co_await rx.recv();
    co_return std::pair{r.value_or(-1), std::this_thread::get_id()};
}

TEST_CASE("a value sent on another loop resumes the receiver on its own loop") {
    auto [tx, rx] = corio::oneshot<int>::make();
    corio::runtime rt;  // before the loop_thread: see loop_thread.hpp
    corio_test::loop_thread other(send_from_other_loop(std::move(tx)));
    const auto [value, on] = rt.block_on(recv_here(std::move(rx)));
    CHECK(value == 77);
    CHECK(on == std::this_thread::get_id());
}

}  // namespace
