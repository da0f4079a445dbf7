// SPDX-License-Identifier: MIT
// reactor::add's trigger modes, checked once per available backend: trigger::level is
// level-triggered everywhere, trigger::native keeps each backend's own mode (io_handle's).
#include <corio/reactor.hpp>

#include <catch2/catch.hpp>

#include <corio/backend.hpp>

#include "support/socket_pair.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace {

using namespace std::chrono_literals;

// The descriptors below are ready before each wait, so it returns at once when the backend is
// right; the bound only keeps a broken one from hanging the test.
constexpr auto ready_wait = 2s;
// Long enough for the system call to report an already-ready descriptor.
constexpr auto quiet_wait = 50ms;

void count_call(void* context, corio::readiness events) noexcept {
    auto* last = static_cast<corio::readiness*>(context);
    *last = events;
    last->bits |= 0x80;  // marks "called" even if nothing was set
}

std::unique_ptr<corio::reactor> open_backend(const std::string& name) {
    auto r = corio::reactor::open(name);
    INFO("backend " << name);
    REQUIRE(r);
    return std::move(*r);
}

// Registers `fd` with `last` as the context; the test stops if the backend refuses.
corio::token watch(corio::reactor& r, int fd, corio::interest want, corio::readiness& last,
                   corio::trigger mode) {
    auto t = r.add(fd, want, count_call, &last, mode);
    REQUIRE(t);
    return *t;
}

std::size_t poll_once(corio::reactor& r, std::chrono::nanoseconds timeout) {
    auto n = r.poll(timeout);
    REQUIRE(n);
    return *n;
}

// A reactor on the named backend, and a socket whose four bytes nobody reads.
struct undrained_socket {
    explicit undrained_socket(const std::string& name) : r(open_backend(name)) {
        REQUIRE(corio_test::send_text(pair.fd(1), "data") == 4);
    }
    std::unique_ptr<corio::reactor> r;
    corio_test::socket_pair pair;
    corio::readiness last;
};

TEST_CASE("trigger::level reports an undrained socket on every poll, on every backend") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    undrained_socket u(name);
    auto& [r, pair, last] = u;
    const corio::token t = watch(*r, pair.fd(0), corio::interest::read, last, corio::trigger::level);
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        last = {};
        CHECK(poll_once(*r, ready_wait) == 1);
        CHECK(last.is_readable());
    }
    // Still reported after a modify() that keeps the read direction.
    REQUIRE(r->modify(t, corio::interest::read_write));
    REQUIRE(r->modify(t, corio::interest::read));
    last = {};
    CHECK(poll_once(*r, ready_wait) == 1);
    CHECK(last.is_readable());
    CHECK(r->remove(t));
}

TEST_CASE("trigger::native keeps an edge-triggered backend edge-triggered") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    undrained_socket u(name);
    auto& [r, pair, last] = u;
    const corio::token t = watch(*r, pair.fd(0), corio::interest::read, last, corio::trigger::native);
    CHECK(poll_once(*r, ready_wait) == 1);
    CHECK(last.is_readable());
    // Undrained: a level-triggered backend says so again, an edge-triggered one waits for news.
    last = {};
    const std::size_t again = poll_once(*r, r->edge_triggered() ? quiet_wait : ready_wait);
    CHECK(again == (r->edge_triggered() ? 0u : 1u));
    CHECK(r->remove(t));
}

TEST_CASE("trigger::level with interest::none reports no hang-up until read is watched") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    auto r = open_backend(name);
    corio_test::socket_pair pair;
    corio::readiness last;
    const corio::token t = watch(*r, pair.fd(0), corio::interest::none, last, corio::trigger::level);
    pair.close(1);
    CHECK(poll_once(*r, quiet_wait) == 0);
    CHECK(last.bits == 0);

    REQUIRE(r->modify(t, corio::interest::read));
    CHECK(poll_once(*r, ready_wait) == 1);
    CHECK(last.is_readable());
    // And none again: out of the kernel's sight once more.
    REQUIRE(r->modify(t, corio::interest::none));
    last = {};
    CHECK(poll_once(*r, quiet_wait) == 0);
    CHECK(r->remove(t));
}

TEST_CASE("trigger::level with interest::none still refuses a closed descriptor") {
    const std::string name = GENERATE(from_range(corio::available_backends()));
    CAPTURE(name);
    auto r = open_backend(name);
    int fd;
    {
        corio_test::socket_pair pair;
        fd = pair.fd(0);
    }  // closed here, and not reused before the add below
    corio::readiness last;
    auto t = r->add(fd, corio::interest::none, count_call, &last, corio::trigger::level);
    REQUIRE_FALSE(t);
    CHECK(t.error() == std::errc::bad_file_descriptor);
}

}  // namespace
