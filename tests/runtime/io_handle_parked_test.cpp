// SPDX-License-Identifier: MIT
// Tests for corio/io_handle.hpp: what happens to a parked operation when its handle is closed or
// moved, on the backend under test (on io_uring the operation is in the kernel meanwhile).
#include <corio/io_handle.hpp>

#include <catch2/catch.hpp>

#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/socket_pair.hpp"

#include <string>
#include <utility>

#include <poll.h>
#include <sys/socket.h>

namespace {

corio::task<void> park_in_recv(corio::io_handle& h, bool& resumed) {
    std::byte b[16];
    (void)co_await h.recv(b);
    resumed = true;
}

corio::task<void> let_it_park() {
    co_await corio::yield();
    co_await corio::yield();
}

}  // namespace

TEST_CASE("closing a handle whose recv is parked closes the socket at once, even while the loop "
          "is not running: the peer sees the end of stream") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    bool resumed = false;
    rt.spawn(park_in_recv(h, resumed));
    rt.block_on(let_it_park());  // the recv is parked (on io_uring: in the kernel)
    REQUIRE(h.close());
    pollfd p{pair.fd(1), POLLIN, 0};
    INFO("backend " << rt.backend_name());
    REQUIRE(::poll(&p, 1, 2000) == 1);  // without the fix: the kernel's request kept it open
    char c;
    CHECK(::recv(pair.fd(1), &c, 1, MSG_DONTWAIT) == 0);
    rt.block_on(let_it_park());  // the parked task now learns of the close
    CHECK(resumed);
}

namespace {

corio::task<std::string> move_while_parked(corio::io_handle& h, bool& resumed) {
    corio::spawn(park_in_recv(h, resumed));
    co_await corio::yield();  // the recv is parked on h now
    std::string what;
    try {
        corio::io_handle moved(std::move(h));
        what = "moved";
    } catch (const corio::usage_error& e) {
        what = e.what();
    }
    corio::io_handle other;
    try {
        other = std::move(h);
        what += "; assigned";
    } catch (const corio::usage_error&) {
        what += "; refused twice";
    }
    co_return what;
}

}  // namespace

TEST_CASE("moving an io_handle while an operation is parked on it throws usage_error and leaves "
          "the handle and its operation as they were") {
    corio::runtime rt;
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    bool resumed = false;
    const std::string what = rt.block_on(move_while_parked(h, resumed));
    CHECK(what == "corio::io_handle: moved while an operation is parked on it; refused twice");
    CHECK(h.is_open());
    REQUIRE(corio_test::send_text(pair.fd(1), "still here") == 10);
    rt.block_on(let_it_park());
    CHECK(resumed);  // the parked recv completed on the handle it started on
}
