// SPDX-License-Identifier: MIT
// Quirks of the poll backend: no FD_SETSIZE limit, swap-remove keeps the other registrations
// intact, POLLNVAL for a descriptor closed while watched, fairness beyond one batch.
#include <corio/reactor.hpp>

#include <catch2/catch.hpp>

#include "support/descriptor_limit.hpp"
#include "support/socket_pair.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include <fcntl.h>
#include <sys/select.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;

struct calls {
    int count = 0;
    corio::readiness last;
};

void record(void* context, corio::readiness events) noexcept {
    auto* c = static_cast<calls*>(context);
    ++c->count;
    c->last = events;
}

std::unique_ptr<corio::reactor> open_poll() {
    auto r = corio::reactor::open("poll");
    REQUIRE(r);
    CHECK((*r)->backend_name() == "poll");
    CHECK_FALSE((*r)->edge_triggered());
    return std::move(*r);
}

TEST_CASE("poll watches descriptors above FD_SETSIZE") {
    const corio_test::descriptor_limit limit(FD_SETSIZE + 64);  // first: restored last
    if (!limit.ok()) {
        WARN("RLIMIT_NOFILE cannot be raised above FD_SETSIZE here; nothing to check");
        return;
    }
    auto r = open_poll();
    corio_test::socket_pair pair;
    const int high = ::fcntl(pair.fd(0), F_DUPFD_CLOEXEC, FD_SETSIZE);
    REQUIRE(high >= FD_SETSIZE);
    calls c;
    auto t = r->add(high, corio::interest::read, record, &c);
    REQUIRE(t);
    REQUIRE(corio_test::send_text(pair.fd(1), "x") == 1);
    auto n = r->poll(std::nullopt);
    REQUIRE(n);
    CHECK(*n == 1);
    CHECK(c.last.is_readable());
    CHECK(r->remove(*t));
    ::close(high);
}

TEST_CASE("poll keeps the other registrations intact when one in the middle is removed") {
    auto r = open_poll();
    constexpr int count = 4;
    std::vector<std::unique_ptr<corio_test::socket_pair>> pairs;
    std::vector<calls> seen(count);
    std::vector<corio::token> tokens;
    for (int i = 0; i < count; ++i) {
        pairs.push_back(std::make_unique<corio_test::socket_pair>());
        auto t = r->add(pairs[i]->fd(0), corio::interest::read, record, &seen[i]);
        REQUIRE(t);
        tokens.push_back(*t);
    }
    // Removing the first moves the last into its place; the moved one must keep its token.
    REQUIRE(r->remove(tokens[0]));
    REQUIRE(r->modify(tokens[3], corio::interest::read_write));
    REQUIRE(corio_test::send_text(pairs[0]->fd(1), "0") == 1);
    REQUIRE(corio_test::send_text(pairs[2]->fd(1), "2") == 1);
    auto n = r->poll(std::nullopt);
    REQUIRE(n);
    CHECK(*n == 2);
    CHECK(seen[0].count == 0);
    CHECK(seen[1].count == 0);
    CHECK(seen[2].count == 1);
    CHECK(seen[2].last.is_readable());
    CHECK(seen[3].count == 1);
    CHECK(seen[3].last.is_writable());
    CHECK_FALSE(seen[3].last.is_readable());
    // The removed descriptor can be added again.
    auto again = r->add(pairs[0]->fd(0), corio::interest::read, record, &seen[0]);
    REQUIRE(again);
    for (auto t : {*again, tokens[1], tokens[2], tokens[3]}) {
        CHECK(r->remove(t));
    }
    CHECK(r->size() == 0);
}

TEST_CASE("poll reports a descriptor closed without remove() as an error (POLLNVAL)") {
    auto r = open_poll();
    corio_test::socket_pair live;
    auto doomed = std::make_unique<corio_test::socket_pair>();
    calls on_live;
    calls on_doomed;
    auto tl = r->add(live.fd(0), corio::interest::read, record, &on_live);
    auto td = r->add(doomed->fd(0), corio::interest::read, record, &on_doomed);
    REQUIRE(tl);
    REQUIRE(td);
    doomed.reset();
    REQUIRE(corio_test::send_text(live.fd(1), "x") == 1);
    auto n = r->poll(std::nullopt);
    REQUIRE(n);
    CHECK(*n == 2);
    CHECK(on_doomed.count == 1);
    CHECK(on_doomed.last.is_error());
    CHECK(on_doomed.last.is_readable());
    CHECK(on_doomed.last.is_writable());
    CHECK(on_live.count == 1);
    CHECK_FALSE(on_live.last.is_error());
    CHECK(r->remove(*td));
    CHECK(r->remove(*tl));
}

TEST_CASE("poll serves every ready descriptor even when more are ready than one batch holds") {
    auto r = open_poll();
    constexpr int count = 300;  // more than the reactor's batch of 256
    std::vector<std::unique_ptr<corio_test::socket_pair>> pairs;
    std::vector<calls> seen(count);
    std::vector<corio::token> tokens;
    for (int i = 0; i < count; ++i) {
        pairs.push_back(std::make_unique<corio_test::socket_pair>());
        auto t = r->add(pairs.back()->fd(0), corio::interest::read, record, &seen[i]);
        REQUIRE(t);
        tokens.push_back(*t);
        REQUIRE(corio_test::send_text(pairs.back()->fd(1), "x") == 1);
    }
    std::size_t dispatched = 0;
    for (int round = 0; round < 2; ++round) {
        auto n = r->poll(0ns);
        REQUIRE(n);
        dispatched += *n;
    }
    CHECK(dispatched >= static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        CAPTURE(i);
        CHECK(seen[i].count >= 1);
    }
    for (auto t : tokens) {
        CHECK(r->remove(t));
    }
}

}  // namespace
