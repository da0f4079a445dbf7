// SPDX-License-Identifier: MIT
// Tests for corio/event_loop.hpp: the same level-triggered events, and the same hang-up rule,
// on every backend (the edge-triggered and one-shot ones included).
#include <corio/event_loop.hpp>

#include <catch2/catch.hpp>

#include <corio/backend.hpp>

#include "support/event_loop_util.hpp"
#include "support/socket_pair.hpp"

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include <sys/socket.h>

namespace {

using namespace std::chrono_literals;

// Generous: every wait below is for a descriptor that is already ready, so it returns at
// once when the loop is right; the bound only keeps a broken loop from hanging the test.
constexpr auto ready_wait = 2s;
// How long to wait for an event that must not come; kernels report a ready descriptor
// immediately, so this only has to cover the system call itself.
constexpr auto quiet_wait = 50ms;

// Dispatches until `done()` or a wait reports nothing; returns the waits that reported events.
template <class Done>
int run_until(corio::event_loop& loop, Done done, int max_waits) {
    int waits = 0;
    while (!done() && waits < max_waits) {
        auto n = loop.run_once(ready_wait);
        REQUIRE(n);
        if (*n == 0) {
            break;
        }
        ++waits;
    }
    return waits;
}

// Records what each call for `fd` reports, into `seen`.
void record_calls(corio::event_loop& loop, int fd, corio::interest want,
                  std::vector<corio::readiness>& seen) {
    REQUIRE(loop.add(fd, want, [&seen](int, corio::readiness r) { seen.push_back(r); }));
}

// What a reader is told of a peer's close on every backend: readable, not writable, and the
// hang-up bit from all but select, which cannot tell a closed peer from data.
void check_close_seen_by_reader(const corio::event_loop& loop, corio::readiness r) {
    CHECK(r.is_readable());
    CHECK_FALSE(r.is_writable());  // only the watched direction
    CHECK(r.is_hangup() == (loop.backend_name() != "select"));
}

TEST_CASE("a handler that does not drain its socket is called again until it has read it all") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    const std::string sent = "0123456789abcdefghijABCDEFGHIJ!@#$%^&*()";  // 40 bytes
    REQUIRE(corio_test::send_text(pair.fd(1), sent) == 40);
    std::string received;
    int calls = 0;
    REQUIRE(loop.add(pair.fd(0), corio::interest::read, [&](int fd, corio::readiness r) {
        ++calls;
        CHECK(r.is_readable());
        received += corio_test::recv_text(fd, 10);  // a quarter of it per call
    }));
    run_until(loop, [&] { return received.size() == sent.size(); }, 8);
    CHECK(received == sent);
    CHECK(calls == 4);
    // Drained: nothing more is reported.
    auto quiet = loop.run_once(quiet_wait);
    REQUIRE(quiet);
    CHECK(*quiet == 0);
    CHECK(loop.remove(pair.fd(0)));
}

TEST_CASE("a writable descriptor is reported on every wait while it stays writable") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    int calls = 0;
    REQUIRE(loop.add(pair.fd(0), corio::interest::write, [&](int, corio::readiness r) {
        ++calls;
        CHECK(r.is_writable());
    }));
    CHECK(run_until(loop, [&] { return calls == 3; }, 3) == 3);
    CHECK(calls == 3);
    CHECK(loop.remove(pair.fd(0)));
}

TEST_CASE("data that arrives after a partial read is still reported after modify()") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    std::string received;
    REQUIRE(loop.add(pair.fd(0), corio::interest::read, [&](int fd, corio::readiness) {
        received += corio_test::recv_text(fd, 2);
    }));
    REQUIRE(corio_test::send_text(pair.fd(1), "abcd") == 4);
    run_until(loop, [&] { return received.size() == 2; }, 1);
    CHECK(received == "ab");
    // Re-registering (read+write, then read) must not lose the two bytes still queued.
    REQUIRE(loop.modify(pair.fd(0), corio::interest::read_write));
    REQUIRE(loop.modify(pair.fd(0), corio::interest::read));
    run_until(loop, [&] { return received.size() == 4; }, 4);
    CHECK(received == "abcd");
    CHECK(loop.remove(pair.fd(0)));
}

TEST_CASE("with interest::none a peer's close is reported nowhere, until read is watched") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    std::vector<corio::readiness> seen;
    record_calls(loop, pair.fd(0), corio::interest::none, seen);
    pair.close(1);
    auto quiet = loop.run_once(quiet_wait);
    REQUIRE(quiet);
    CHECK(*quiet == 0);
    CHECK(seen.empty());

    REQUIRE(loop.modify(pair.fd(0), corio::interest::read));
    run_until(loop, [&] { return !seen.empty(); }, 1);
    REQUIRE(seen.size() == 1);
    check_close_seen_by_reader(loop, seen[0]);
    CHECK(corio_test::recv_text(pair.fd(0)).empty());  // end of stream
    CHECK(loop.remove(pair.fd(0)));
}

TEST_CASE("a peer's close is reported as readable (and hang-up) to a reader on every backend") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    std::vector<corio::readiness> seen;
    record_calls(loop, pair.fd(0), corio::interest::read, seen);
    pair.close(1);
    // Level-triggered: the end of stream stays readable, so it is reported on each wait.
    CHECK(run_until(loop, [&] { return seen.size() == 2; }, 2) == 2);
    REQUIRE(seen.size() == 2);
    check_close_seen_by_reader(loop, seen[0]);
    check_close_seen_by_reader(loop, seen[1]);
    CHECK(corio_test::recv_text(pair.fd(0)).empty());
    CHECK(loop.remove(pair.fd(0)));
}

TEST_CASE("a TCP peer's shutdown(SHUT_WR) is reported as readable (and hang-up) to a reader") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::tcp_pair pair;
    std::vector<corio::readiness> seen;
    record_calls(loop, pair.fd(0), corio::interest::read, seen);
    REQUIRE(::shutdown(pair.fd(1), SHUT_WR) == 0);
    run_until(loop, [&] { return !seen.empty(); }, 1);
    REQUIRE(seen.size() == 1);
    check_close_seen_by_reader(loop, seen[0]);
    CHECK(corio_test::recv_text(pair.fd(0)).empty());
    CHECK(loop.remove(pair.fd(0)));
}

TEST_CASE("a peer's close is reported as writable, never readable, to a writer") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    std::vector<corio::readiness> seen;
    record_calls(loop, pair.fd(0), corio::interest::write, seen);
    pair.close(1);
    run_until(loop, [&] { return !seen.empty(); }, 1);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].is_writable());
    CHECK_FALSE(seen[0].is_readable());
    // The retried write learns the truth.
    CHECK(corio_test::send_text(pair.fd(0), "x") == -1);
    CHECK(errno == EPIPE);
    CHECK(loop.remove(pair.fd(0)));
}

}  // namespace
