// SPDX-License-Identifier: MIT
// Tests for corio/event_loop.hpp: callbacks per descriptor, changes from inside callbacks, stop.
#include <corio/event_loop.hpp>

#include <catch2/catch.hpp>

#include <corio/backend.hpp>
#include <corio/error.hpp>

#include "support/event_loop_util.hpp"
#include "support/socket_pair.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct call {
    int fd;
    bool readable;
    bool writable;
};

TEST_CASE("event_loop opens on the default backend") {
    corio::event_loop loop = corio_test::open_event_loop();
    CHECK(loop.backend_name() == corio::default_backend_name());
    CHECK(loop.size() == 0);
}

TEST_CASE("event_loop::open with an unknown backend reports errc::backend_unavailable") {
    auto loop = corio::event_loop::open("no-such-backend");
    REQUIRE_FALSE(loop);
    CHECK(loop.error() == corio::errc::backend_unavailable);
}

TEST_CASE("a callback runs with its descriptor once the socket is readable") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    std::vector<call> calls;
    REQUIRE(loop.add(pair.fd(0), corio::interest::read, [&](int fd, corio::readiness r) {
        calls.push_back({fd, r.is_readable(), r.is_writable()});
        CHECK(corio_test::recv_text(fd) == "ping");
        loop.stop();
    }));
    CHECK(loop.size() == 1);
    auto idle = loop.run_once(0ns);
    REQUIRE(idle);
    CHECK(*idle == 0);
    CHECK(calls.empty());

    corio_test::send_text(pair.fd(1), "ping");
    REQUIRE(loop.run());
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].fd == pair.fd(0));
    CHECK(calls[0].readable);
    CHECK_FALSE(calls[0].writable);
    CHECK(loop.remove(pair.fd(0)));
}

TEST_CASE("stop() from a callback makes run() return once that batch is dispatched") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair first;
    corio_test::socket_pair second;
    std::vector<int> calls;
    const auto stop_on_data = [&](int fd, corio::readiness) {
        calls.push_back(fd);
        CHECK_FALSE(corio_test::recv_text(fd).empty());
        loop.stop();
    };
    REQUIRE(loop.add(first.fd(0), corio::interest::read, stop_on_data));
    REQUIRE(loop.add(second.fd(0), corio::interest::read, stop_on_data));
    corio_test::send_text(first.fd(1), "1");
    corio_test::send_text(second.fd(1), "2");
    REQUIRE(loop.run());
    // Both were ready in the same wait: the callback after the stop still ran.
    CHECK(calls.size() == 2);
    // And run() can be called again; a stop from a callback ends it again.
    corio_test::send_text(first.fd(1), "3");
    REQUIRE(loop.run());
    CHECK(calls.size() == 3);
}

TEST_CASE("removing its own descriptor inside a callback is safe") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    int calls = 0;
    std::string seen;
    std::string captured_text = "captured state";
    REQUIRE(loop.add(pair.fd(0), corio::interest::read,
                     [&loop, &calls, &seen, captured_text](int fd, corio::readiness) {
                         ++calls;
                         CHECK(loop.remove(fd));
                         // The handler, and so what it captured, lives until the dispatch ends.
                         seen = captured_text;
                     }));
    corio_test::send_text(pair.fd(1), "data");
    auto n = loop.run_once(std::nullopt);
    REQUIRE(n);
    CHECK(*n == 1);
    CHECK(calls == 1);
    CHECK(seen == "captured state");
    CHECK(loop.size() == 0);
    // Still readable, but no longer watched.
    auto again = loop.run_once(0ns);
    REQUIRE(again);
    CHECK(*again == 0);
    CHECK(calls == 1);
}

TEST_CASE("a descriptor removed by an earlier callback of the same batch gets no callback") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair first;
    corio_test::socket_pair second;
    int calls = 0;
    const int a = first.fd(0);
    const int b = second.fd(0);
    REQUIRE(loop.add(a, corio::interest::read, [&](int, corio::readiness) {
        ++calls;
        CHECK(loop.remove(b));
    }));
    REQUIRE(loop.add(b, corio::interest::read, [&](int, corio::readiness) {
        ++calls;
        CHECK(loop.remove(a));
    }));
    corio_test::send_text(first.fd(1), "x");
    corio_test::send_text(second.fd(1), "y");
    auto n = loop.run_once(std::nullopt);
    REQUIRE(n);
    CHECK(*n == 1);
    CHECK(calls == 1);
    CHECK(loop.size() == 1);  // only the one whose callback ran is left
}

TEST_CASE("modify() changes what a descriptor is watched for") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    std::vector<call> calls;
    REQUIRE(loop.add(pair.fd(0), corio::interest::read, [&](int fd, corio::readiness r) {
        calls.push_back({fd, r.is_readable(), r.is_writable()});
    }));
    auto none = loop.run_once(0ns);
    REQUIRE(none);
    CHECK(*none == 0);  // writable, but only reading is watched

    REQUIRE(loop.modify(pair.fd(0), corio::interest::write));
    auto n = loop.run_once(std::nullopt);
    REQUIRE(n);
    CHECK(*n == 1);
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].writable);
    CHECK_FALSE(calls[0].readable);
}

TEST_CASE("a callback may add another descriptor, which then gets its own callbacks") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair first;
    corio_test::socket_pair second;
    std::vector<int> calls;
    REQUIRE(loop.add(first.fd(0), corio::interest::read, [&](int fd, corio::readiness) {
        calls.push_back(fd);
        CHECK(corio_test::recv_text(fd) == "1");
        CHECK(loop.add(second.fd(0), corio::interest::read, [&](int fd2, corio::readiness) {
            calls.push_back(fd2);
            CHECK(corio_test::recv_text(fd2) == "2");
            loop.stop();
        }));
        corio_test::send_text(second.fd(1), "2");
    }));
    corio_test::send_text(first.fd(1), "1");
    REQUIRE(loop.run());
    CHECK(calls == std::vector<int>{first.fd(0), second.fd(0)});
}

TEST_CASE("event_loop reports EEXIST, ENOENT and EINVAL for misuse") {
    corio::event_loop loop = corio_test::open_event_loop();
    corio_test::socket_pair pair;
    const auto ignore = [](int, corio::readiness) {};
    REQUIRE(loop.add(pair.fd(0), corio::interest::read, ignore));

    auto twice = loop.add(pair.fd(0), corio::interest::read, ignore);
    CHECK(twice.error() == std::errc::file_exists);
    CHECK(loop.modify(pair.fd(1), corio::interest::read).error() ==
          std::errc::no_such_file_or_directory);
    CHECK(loop.remove(pair.fd(1)).error() == std::errc::no_such_file_or_directory);
    CHECK(loop.add(pair.fd(1), corio::interest::read, {}).error() == std::errc::invalid_argument);
    CHECK(loop.add(-1, corio::interest::read, ignore).error() == std::errc::bad_file_descriptor);

    CHECK(loop.remove(pair.fd(0)));
    CHECK(loop.remove(pair.fd(0)).error() == std::errc::no_such_file_or_directory);
    CHECK(loop.size() == 0);
}

}  // namespace
