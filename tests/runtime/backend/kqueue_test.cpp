// SPDX-License-Identifier: MIT
// Quirks of the kqueue backend (EV_CLEAR: edge-triggered; EV_EOF: hang-up). Built only on
// BSD/macOS or with CORIO_WITH_KQUEUE (libkqueue on Linux); elsewhere each test only checks
// that "kqueue" is refused, and says so. Each test opens kqueue itself, whatever
// CORIO_BACKEND says.
#include <corio/reactor.hpp>

#include <catch2/catch.hpp>

#include <corio/backend.hpp>
#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/io_handle.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/socket_pair.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;

struct calls {
    int count = 0;
    corio::readiness seen;  // every bit reported so far
};

void record(void* context, corio::readiness events) noexcept {
    auto* c = static_cast<calls*>(context);
    ++c->count;
    c->seen.bits |= events.bits;
}

// Whether the kqueue backend is built; when not, checks that it is refused and says so.
bool kqueue_built_or_skip() {
    const auto names = corio::available_backends();
    if (std::find(names.begin(), names.end(), "kqueue") != names.end()) {
        return true;
    }
    auto r = corio::reactor::open("kqueue");
    REQUIRE_FALSE(r);
    CHECK(r.error() == corio::errc::backend_unavailable);
    WARN("the kqueue backend is not built (CORIO_WITH_KQUEUE=OFF): skipped");
    return false;
}

// The kqueue reactor, or null (after checking that it is refused) when it is not built.
std::unique_ptr<corio::reactor> open_kqueue_or_skip() {
    if (!kqueue_built_or_skip()) {
        return nullptr;
    }
    auto r = corio::reactor::open("kqueue");
    REQUIRE(r);
    CHECK((*r)->backend_name() == "kqueue");
    CHECK((*r)->edge_triggered());
    return std::move(*r);
}

using corio_test::tcp_pair;

// Polls until `done()` holds; the deadline fails the test (an emulation may deliver late).
template <class Predicate>
void poll_until(corio::reactor& r, Predicate done, std::chrono::seconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        REQUIRE(r.poll(100ms));
    }
}

TEST_CASE("kqueue reports EOF from the peer as hang-up and readable") {
    auto r = open_kqueue_or_skip();
    if (!r) {
        return;
    }
    corio_test::socket_pair pair;
    calls c;
    auto t = r->add(pair.fd(0), corio::interest::read, record, &c);
    REQUIRE(t);
    pair.close(1);
    poll_until(*r, [&c] { return c.count > 0; });
    CHECK(c.seen.is_readable());
    CHECK(c.seen.is_hangup());
    CHECK_FALSE(c.seen.is_error());
    CHECK(r->remove(*t));
}

TEST_CASE("kqueue reports EOF that follows unread data as hang-up and readable") {
    auto r = open_kqueue_or_skip();
    if (!r) {
        return;
    }
    corio_test::socket_pair pair;
    calls c;
    auto t = r->add(pair.fd(0), corio::interest::read_write, record, &c);
    REQUIRE(t);
    REQUIRE(corio_test::send_text(pair.fd(1), "last words") == 10);
    pair.close(1);
    // The read and write filters report separately; wait for the read filter's EOF.
    poll_until(*r, [&c] { return c.seen.is_readable() && c.seen.is_hangup(); });
    // The data is still there to read before the end of the stream.
    CHECK(corio_test::recv_text(pair.fd(0)) == "last words");
    CHECK(r->remove(*t));
}

TEST_CASE("kqueue reports readiness once per arrival (EV_CLEAR)") {
    auto r = open_kqueue_or_skip();
    if (!r) {
        return;
    }
    corio_test::socket_pair pair;
    calls c;
    auto t = r->add(pair.fd(0), corio::interest::read, record, &c);
    REQUIRE(t);
    REQUIRE(corio_test::send_text(pair.fd(1), "x") == 1);
    poll_until(*r, [&c] { return c.count > 0; });
    REQUIRE(c.count == 1);
    for (int i = 0; i < 3; ++i) {
        REQUIRE(r->poll(0ns));
    }
    CHECK(c.count == 1);  // the byte is still unread, but nothing new arrived
    REQUIRE(corio_test::send_text(pair.fd(1), "y") == 1);
    auto n = r->poll(10s);
    REQUIRE(n);
    CHECK(c.count == 2);
    CHECK(r->remove(*t));
}

// libkqueue keeps one epoll registration per fd: with the read filter added before the write
// filter, EPOLLRDHUP was dropped and the FIN that came with the data never became EV_EOF.
TEST_CASE("kqueue reports a TCP peer's FIN that came with its last data as hang-up") {
    auto r = open_kqueue_or_skip();
    if (!r) {
        return;
    }
    tcp_pair pair;
    calls c;
    auto t = r->add(pair.fd(0), corio::interest::read_write, record, &c);
    REQUIRE(t);
    REQUIRE(corio_test::send_text(pair.fd(1), "last words") == 10);
    pair.close(1);
    poll_until(*r, [&c] { return c.seen.is_readable() && c.seen.is_hangup(); });
    CHECK_FALSE(c.seen.is_error());
    CHECK(corio_test::recv_text(pair.fd(0)) == "last words");
    CHECK(r->remove(*t));
}

// Everything received until the end of stream, or the error that ended it.
struct stream_end {
    std::string text;
    std::error_code error;
};

corio::task<stream_end> recv_to_end(corio::io_handle& h) {
    stream_end out;
    std::array<std::byte, 256> buf;
    for (;;) {
        auto n = co_await h.recv(buf);
        if (!n) {
            out.error = n.error();
            co_return out;
        }
        if (*n == 0) {
            co_return out;
        }
        out.text += corio_test::as_string({buf.data(), *n});
    }
}

corio::task<void> send_and_close(tcp_pair& pair, std::string last) {
    if (!last.empty()) {
        CHECK(corio_test::send_text(pair.fd(1), last) == static_cast<ssize_t>(last.size()));
    }
    pair.close(1);
    co_return;
}

corio::task<corio::result<stream_end>> recv_while_peer_closes(corio::io_handle& h, tcp_pair& pair,
                                                               std::string last) {
    corio::spawn(send_and_close(pair, std::move(last)));  // runs once the recv has parked
    co_return co_await corio::with_timeout(std::chrono::seconds(5), recv_to_end(h));
}

// io_handle takes a short read for a drained socket unless the end of stream was reported
// with it, so a missing EV_EOF would leave the second recv parked for good.
TEST_CASE("on kqueue, a parked recv resumes with 0 bytes when the TCP peer closes") {
    const std::string last = GENERATE(as<std::string>{}, "", "last words");
    CAPTURE(last);
    if (!kqueue_built_or_skip()) {
        return;
    }
    corio::runtime_options options;
    options.backend = "kqueue";
    corio::runtime rt(std::move(options));
    tcp_pair pair;
    corio::io_handle h(pair.take(0));
    const auto end = rt.block_on(recv_while_peer_closes(h, pair, last));
    INFO("timed out: no end of stream was reported");
    REQUIRE(end);
    CHECK_FALSE(end->error);
    CHECK(end->text == last);
}

}  // namespace
