// SPDX-License-Identifier: MIT
// Tests for corio/io_handle.hpp: a descriptor closed behind a parked operation's back and its
// number reused by a new socket. The stale operation fails with errc::stale_descriptor and the
// new owner gets its own bytes, on every backend.
#include <corio/io_handle.hpp>

#include <catch2/catch.hpp>

#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/socket_pair.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <string>

#include <fcntl.h>
#include <unistd.h>

namespace {

using corio_test::as_string;

struct outcome {
    std::optional<corio::result<std::string>> got;
};

corio::task<void> recv_into(corio::io_handle& h, outcome& out) {
    std::array<std::byte, 64> buf{};
    auto r = co_await h.recv(buf);
    if (r) {
        out.got = as_string(std::span(buf).first(*r));
    } else {
        out.got = corio::result<std::string>(r.error());
    }
}

corio::task<corio::result<std::string>> recv_text(corio::io_handle& h) {
    outcome out;
    co_await recv_into(h, out);
    co_return std::move(*out.got);
}

// Closes `fd` without telling corio and makes the same number name `replacement`'s end 0 (the
// number a new socket would get), as a careless program would.
void reuse_number(int fd, corio_test::socket_pair& replacement) {
    ::close(fd);
    REQUIRE(::dup3(replacement.fd(0), fd, O_CLOEXEC) == fd);
    replacement.close(0);
}

corio::task<void> one_turn() {
    co_await corio::yield();
}

bool is_stale(const std::optional<corio::result<std::string>>& r) {
    return r && !*r && r->error() == corio::errc::stale_descriptor;
}

// The old recv parks; the number is reused and the new connection's bytes are already there
// when the new handle is made inside the loop (as an accept does).
corio::task<std::string> reuse_while_parked(corio::io_handle& old, outcome& old_out,
                                             corio_test::socket_pair& next) {
    corio::spawn(recv_into(old, old_out));
    co_await corio::yield();  // the old recv is parked
    const int number = old.fd();
    reuse_number(number, next);
    REQUIRE(corio_test::send_text(next.fd(1), "SECRET-of-new-conn") == 18);
    corio::io_handle fresh(number);
    co_await corio::yield();  // a loop turn, with the new bytes ready, before the first recv
    co_await corio::yield();
    auto got = co_await recv_text(fresh);
    REQUIRE(got);
    REQUIRE(old.close());  // does not close the number: it is fresh's now
    REQUIRE(corio_test::send_text(next.fd(1), "more") == 4);
    auto again = co_await recv_text(fresh);
    co_return *got + "|" + (again ? *again : again.error().message());
}

}  // namespace

TEST_CASE("a parked recv whose descriptor was closed behind its back and reused resumes with "
          "stale_descriptor; the new socket's bytes go to its new owner") {
    corio::runtime rt;
    corio_test::socket_pair first;
    corio_test::socket_pair next;
    corio::io_handle old(first.take(0));
    outcome old_out;
    INFO("backend " << rt.backend_name());
    CHECK(rt.block_on(reuse_while_parked(old, old_out, next)) == "SECRET-of-new-conn|more");
    CHECK(is_stale(old_out.got));
    CHECK_FALSE(old.is_open());
    auto later = rt.block_on(recv_text(old));  // and so is every later operation on it
    CHECK(is_stale(later));
}

TEST_CASE("a handle made outside the loop on a reused number finds the stale registration when "
          "it first waits") {
    corio::runtime rt;
    corio_test::socket_pair first;
    corio_test::socket_pair next;
    corio::io_handle old(first.take(0));
    outcome old_out;
    rt.spawn(recv_into(old, old_out));
    rt.block_on(one_turn());  // the old recv is parked
    const int number = old.fd();
    reuse_number(number, next);
    corio::io_handle fresh(number);  // no runtime runs here: nothing is claimed yet
    outcome fresh_out;
    rt.spawn(recv_into(fresh, fresh_out));
    rt.block_on(one_turn());  // fresh's recv parks, and its registration evicts the old one
    INFO("backend " << rt.backend_name());
    CHECK(is_stale(old_out.got));
    REQUIRE(corio_test::send_text(next.fd(1), "mine") == 4);
    for (int turn = 0; turn < 1000 && !fresh_out.got; ++turn) {
        rt.block_on(one_turn());
    }
    REQUIRE(*fresh_out.got);
    CHECK(**fresh_out.got == "mine");
}
