// SPDX-License-Identifier: MIT
// Quirks of the epoll backend: level-triggered "epoll" repeats readiness, "epoll-et" does not.
#include <corio/reactor.hpp>

#include <catch2/catch.hpp>

#include "support/socket_pair.hpp"

#include <chrono>
#include <memory>
#include <optional>

namespace {

using namespace std::chrono_literals;

void count_call(void* context, corio::readiness) noexcept { ++*static_cast<int*>(context); }

std::unique_ptr<corio::reactor> open_named(const char* name) {
    auto r = corio::reactor::open(name);
    REQUIRE(r);
    return std::move(*r);
}

TEST_CASE("level-triggered epoll reports unread data on every poll") {
    auto r = open_named("epoll");
    CHECK_FALSE(r->edge_triggered());
    corio_test::socket_pair pair;
    int calls = 0;
    auto t = r->add(pair.fd(0), corio::interest::read, count_call, &calls);
    REQUIRE(t);
    REQUIRE(corio_test::send_text(pair.fd(1), "x") == 1);
    for (int i = 0; i < 3; ++i) {
        auto n = r->poll(0ns);
        REQUIRE(n);
    }
    CHECK(calls == 3);
    CHECK(r->remove(*t));
}

TEST_CASE("edge-triggered epoll reports readiness once per arrival") {
    auto r = open_named("epoll-et");
    CHECK(r->edge_triggered());
    corio_test::socket_pair pair;
    int calls = 0;
    auto t = r->add(pair.fd(0), corio::interest::read, count_call, &calls);
    REQUIRE(t);
    REQUIRE(corio_test::send_text(pair.fd(1), "x") == 1);
    for (int i = 0; i < 3; ++i) {
        auto n = r->poll(0ns);
        REQUIRE(n);
    }
    CHECK(calls == 1);
    // New data is a new edge, even though the old byte is still unread.
    REQUIRE(corio_test::send_text(pair.fd(1), "y") == 1);
    auto n = r->poll(std::nullopt);
    REQUIRE(n);
    CHECK(calls == 2);
    CHECK(r->remove(*t));
}

TEST_CASE("epoll flags a closed peer as hang-up, readable and, for a full close, writable") {
    const char* name = GENERATE("epoll", "epoll-et");
    CAPTURE(name);
    auto r = open_named(name);
    corio_test::socket_pair pair;
    corio::readiness seen;
    auto t = r->add(pair.fd(0), corio::interest::read,
                    [](void* context, corio::readiness events) noexcept {
                        *static_cast<corio::readiness*>(context) = events;
                    },
                    &seen);
    REQUIRE(t);
    pair.close(1);
    auto n = r->poll(std::nullopt);
    REQUIRE(n);
    CHECK(*n == 1);
    CHECK(seen.is_readable());
    CHECK(seen.is_hangup());
    CHECK(seen.is_writable());  // EPOLLHUP: both directions are done
    CHECK(r->remove(*t));
}

}  // namespace
