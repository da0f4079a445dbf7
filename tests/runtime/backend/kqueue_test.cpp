// SPDX-License-Identifier: MIT
// Quirks of the kqueue backend (EV_CLEAR: edge-triggered; EV_EOF: hang-up). Built only on
// BSD/macOS or with CORIO_WITH_KQUEUE (libkqueue on Linux); elsewhere each test only checks
// that "kqueue" is refused, and says so.
#include <corio/reactor.hpp>

#include <catch2/catch.hpp>

#include <corio/backend.hpp>
#include <corio/error.hpp>

#include "support/socket_pair.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

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

// The kqueue reactor, or null (after checking that it is refused) when it is not built.
std::unique_ptr<corio::reactor> open_kqueue_or_skip() {
    const auto names = corio::available_backends();
    if (std::find(names.begin(), names.end(), "kqueue") == names.end()) {
        auto r = corio::reactor::open("kqueue");
        REQUIRE_FALSE(r);
        CHECK(r.error() == corio::errc::backend_unavailable);
        WARN("the kqueue backend is not built (CORIO_WITH_KQUEUE=OFF): skipped");
        return nullptr;
    }
    auto r = corio::reactor::open("kqueue");
    REQUIRE(r);
    CHECK((*r)->backend_name() == "kqueue");
    CHECK((*r)->edge_triggered());
    return std::move(*r);
}

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

}  // namespace
