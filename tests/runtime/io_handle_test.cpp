// SPDX-License-Identifier: MIT
// Tests for corio/io_handle.hpp over socket pairs and pipes, on the backend under test.
#include <corio/io_handle.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/clock.hpp>
#include <corio/error.hpp>
#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/clock_steps.hpp"
#include "support/socket_pair.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <stop_token>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using corio_test::as_bytes;
using corio_test::as_string;

// The outcome of one recv: the bytes received, or the error.
struct received {
    std::error_code error;
    std::string bytes;
};

corio::task<received> recv_once(corio::io_handle& h, std::stop_token token = {}) {
    std::array<std::byte, 256> buf;
    auto r = co_await h.recv(buf, std::move(token));
    if (!r) {
        co_return received{r.error(), {}};
    }
    co_return received{{}, as_string({buf.data(), *r})};
}

corio::task<received> send_then_recv(corio::io_handle& a, corio::io_handle& b, std::string text) {
    auto sent = co_await a.send(as_bytes(text));
    if (!sent) {
        co_return received{sent.error(), {}};
    }
    CHECK(*sent == text.size());
    co_return co_await recv_once(b);
}

TEST_CASE("send on one end of a socket pair is received on the other") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle a(pair.take(0));
    corio::io_handle b(pair.take(1));
    const received r = rt.block_on(send_then_recv(a, b, "hello, corio"));
    CHECK_FALSE(r.error);
    CHECK(r.bytes == "hello, corio");
    const received back = rt.block_on(send_then_recv(b, a, "and back"));
    CHECK(back.bytes == "and back");
}

corio::task<void> send_later(int fd, std::string text, bool& sent) {
    sent = true;
    corio_test::send_text(fd, text);
    co_return;
}

corio::task<std::pair<received, bool>> recv_before_data(corio::io_handle& h, int peer) {
    bool sent = false;
    corio::spawn(send_later(peer, "late data", sent));  // runs once the recv has suspended
    received r = co_await recv_once(h);
    co_return std::pair{std::move(r), sent};
}

TEST_CASE("recv suspends until data arrives") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    const auto [r, sent_first] = rt.block_on(recv_before_data(h, pair.fd(1)));
    CHECK(sent_first);
    CHECK_FALSE(r.error);
    CHECK(r.bytes == "late data");
}

corio::task<void> send_then_stop(int fd, std::stop_source& source) {
    corio_test::send_text(fd, "kept");
    source.request_stop();
    co_return;
}

corio::task<std::pair<received, received>> cancelled_then_again(corio::io_handle& h, int peer) {
    std::stop_source source;
    // Data arrives and the stop is requested in the same turn, before the loop polls.
    corio::spawn(send_then_stop(peer, source));
    received first = co_await recv_once(h, source.get_token());
    received second = co_await recv_once(h);
    co_return std::pair{std::move(first), std::move(second)};
}

TEST_CASE("a cancelled recv resumes with operation_canceled and the next recv gets the data") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    const auto [first, second] = rt.block_on(cancelled_then_again(h, pair.fd(1)));
    CHECK(first.error == std::errc::operation_canceled);
    CHECK(first.bytes.empty());
    CHECK_FALSE(second.error);
    CHECK(second.bytes == "kept");
}

corio::task<received> recv_with_stopped_token(corio::io_handle& h) {
    std::stop_source source;
    source.request_stop();
    co_return co_await recv_once(h, source.get_token());
}

TEST_CASE("a recv with an already stopped token and no data returns operation_canceled") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    CHECK(rt.block_on(recv_with_stopped_token(h)).error == std::errc::operation_canceled);
}

corio::task<void> close_handle(corio::io_handle& h) {
    CHECK(h.close());
    co_return;
}

corio::task<received> recv_while_closed(corio::io_handle& h) {
    corio::spawn(close_handle(h));
    co_return co_await recv_once(h);
}

TEST_CASE("close() while a recv is parked resumes it with errc::closed") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    CHECK(rt.block_on(recv_while_closed(h)).error == corio::errc::closed);
    CHECK_FALSE(h.is_open());
    // The descriptor was really closed: the peer sees end of stream.
    char c;
    CHECK(::recv(pair.fd(1), &c, 1, 0) == 0);
}

TEST_CASE("recv on a closed handle returns errc::closed") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    CHECK(h.close());
    CHECK(rt.block_on(recv_once(h)).error == corio::errc::closed);
}

corio::task<void> send_and_close(corio_test::socket_pair& pair, std::string text) {
    corio_test::send_text(pair.fd(1), text);
    pair.close(1);
    co_return;
}

corio::task<corio::result<std::size_t>> recv_size(corio::io_handle& h) {
    std::array<std::byte, 256> buf;
    co_return co_await h.recv(buf);
}

corio::task<std::pair<received, corio::result<std::size_t>>> data_then_end_in_one_turn(
    corio::io_handle& h, corio_test::socket_pair& pair, corio::manual_clock& clock) {
    // The reader parks first; the data and the end of stream then arrive before the next poll,
    // so one event reports both. The first recv takes the data (less than its buffer holds);
    // the end of stream must still be seen, though no further event will announce it.
    corio::spawn(send_and_close(pair, "last words"));
    received data = co_await recv_once(h);
    corio::spawn(corio_test::advance_in_steps(clock, 1ms, 100));
    auto eof = co_await corio::with_timeout(10ms, recv_size(h));  // fails the test, not hangs
    co_return std::pair{std::move(data), std::move(eof)};
}

TEST_CASE("recv returns 0 when data and the peer's close were reported by one event") {
    corio::manual_clock clock;
    corio::runtime_options options;
    options.clock = &clock;
    corio::runtime rt(std::move(options));
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    const auto [data, eof] = rt.block_on(data_then_end_in_one_turn(h, pair, clock));
    CHECK(data.bytes == "last words");
    REQUIRE(eof);
    CHECK(*eof == 0);
}

// Results of recvs running as their own tasks; `changed` is set after each one finishes.
struct recv_log {
    std::vector<received> results;
    corio::event changed;
};

corio::task<void> recv_into(corio::io_handle& h, recv_log& log) {
    log.results.push_back(co_await recv_once(h));
    log.changed.set();
}

corio::task<int> second_concurrent_recv(corio::io_handle& h, int peer, recv_log& log) {
    corio::spawn(recv_into(h, log));
    co_await corio::yield{};  // the spawned recv is parked now
    int usage_errors = 0;
    try {
        (void)co_await recv_once(h);
    } catch (const corio::usage_error&) {
        ++usage_errors;
    }
    corio_test::send_text(peer, "to the first");
    (void)co_await log.changed.wait();
    co_return usage_errors;
}

TEST_CASE("a second concurrent recv on one handle throws usage_error; the first still works") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    recv_log log;
    CHECK(rt.block_on(second_concurrent_recv(h, pair.fd(1), log)) == 1);
    REQUIRE(log.results.size() == 1);
    CHECK_FALSE(log.results[0].error);
    CHECK(log.results[0].bytes == "to the first");
}

corio::task<std::string> wait_ready_then_try_recv(corio::io_handle& h, int peer) {
    std::array<std::byte, 64> buf;
    auto nothing = h.try_recv(buf);
    CHECK(nothing.error() == std::errc::resource_unavailable_try_again);
    bool sent = false;
    corio::spawn(send_later(peer, "ready now", sent));
    auto w = co_await h.wait_ready(corio::interest::read);
    CHECK(w);
    CHECK(sent);
    auto n = h.try_recv(buf);
    if (!n) {
        co_return "error: " + n.error().message();
    }
    co_return as_string({buf.data(), *n});
}

TEST_CASE("wait_ready suspends until the handle is readable after try_recv said EAGAIN") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    CHECK(rt.block_on(wait_ready_then_try_recv(h, pair.fd(1))) == "ready now");
}

corio::task<bool> wait_writable(corio::io_handle& h) {
    auto w = co_await h.wait_ready(corio::interest::write);
    co_return w.has_value();
}

TEST_CASE("wait_ready for write completes on a socket with buffer space") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    CHECK(rt.block_on(wait_writable(h)));
}

corio::task<void> close_fd(corio_test::socket_pair& pair, int end) {
    pair.close(end);
    co_return;
}

corio::task<std::pair<received, received>> recv_until_peer_closes(corio::io_handle& h,
                                                                  corio_test::socket_pair& pair) {
    corio_test::send_text(pair.fd(1), "last words");
    received data = co_await recv_once(h);
    corio::spawn(close_fd(pair, 1));  // closes while the next recv is parked
    received eof = co_await recv_once(h);
    co_return std::pair{std::move(data), std::move(eof)};
}

TEST_CASE("recv returns 0 bytes once the peer has closed its end") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    const auto [data, eof] = rt.block_on(recv_until_peer_closes(h, pair));
    CHECK(data.bytes == "last words");
    CHECK_FALSE(eof.error);
    CHECK(eof.bytes.empty());
    // And again, without suspending, as often as asked.
    const received again = rt.block_on(recv_once(h));
    CHECK_FALSE(again.error);
    CHECK(again.bytes.empty());
}

corio::task<std::size_t> spurious_readiness(corio::io_handle& a, corio::io_handle& b, int peer,
                                            recv_log& log) {
    corio::spawn(recv_into(a, log));
    corio::spawn(recv_into(b, log));
    co_await corio::yield{};  // both recvs are parked on the same socket now
    // One message readies both registrations in one poll; whichever is dispatched first takes
    // it, and the other's retry finds EAGAIN: a spurious wake-up, after which it stays parked.
    // Had it resumed, it would have done so in the same turn, before this task.
    corio_test::send_text(peer, "one");
    (void)co_await log.changed.wait();
    const std::size_t after_first = log.results.size();
    if (after_first != 1) {
        co_return after_first;  // the other recv resumed too: there is nothing left to wait for
    }
    log.changed.reset();
    corio_test::send_text(peer, "two");
    (void)co_await log.changed.wait();
    co_return after_first;
}

TEST_CASE("a wake-up that finds no data leaves the recv parked until data comes") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    // Two descriptors for one socket, each with its own registration in the reactor.
    const int fd = pair.take(0);
    const int dup_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    REQUIRE(dup_fd >= 0);
    corio::io_handle a(fd);
    corio::io_handle b(dup_fd);
    recv_log log;
    CHECK(rt.block_on(spurious_readiness(a, b, pair.fd(1), log)) == 1);
    REQUIRE(log.results.size() == 2);
    CHECK_FALSE(log.results[0].error);
    CHECK(log.results[0].bytes == "one");
    CHECK_FALSE(log.results[1].error);
    CHECK(log.results[1].bytes == "two");
}

corio::task<void> drain_later(int fd, std::size_t& drained) {
    drained = corio_test::drain(fd);
    co_return;
}

corio::task<std::pair<std::size_t, std::size_t>> send_into_full_socket(corio::io_handle& h,
                                                                       int peer) {
    const std::size_t filled = corio_test::fill_send_buffer(h.fd());
    std::size_t drained = 0;
    corio::spawn(drain_later(peer, drained));
    auto n = co_await h.send(as_bytes("after the wait"));
    CHECK(n);
    CHECK(drained > 0);  // the send waited for the peer to make room
    co_return std::pair{filled, drained};
}

TEST_CASE("send on a full socket suspends until the peer makes room") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    const auto [filled, drained] = rt.block_on(send_into_full_socket(h, pair.fd(1)));
    CHECK(filled == drained);
    CHECK(corio_test::recv_text(pair.fd(1)) == "after the wait");
}

corio::task<void> release_handle(corio::io_handle& h, int& released) {
    released = h.release();
    co_return;
}

corio::task<received> recv_released(corio::io_handle& h, int& released) {
    corio::spawn(release_handle(h, released));
    co_return co_await recv_once(h);
}

TEST_CASE("release() hands the descriptor back open and resumes a parked recv with closed") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    const int fd = pair.take(0);
    corio::io_handle h(fd);
    int released = -1;
    CHECK(rt.block_on(recv_released(h, released)).error == corio::errc::closed);
    CHECK(released == fd);
    CHECK_FALSE(h.is_open());
    CHECK(corio_test::send_text(pair.fd(1), "still open") == 10);
    CHECK(corio_test::recv_text(fd) == "still open");
    ::close(fd);
}

}  // namespace
