// SPDX-License-Identifier: MIT
// Tests for corio/net/unix_listener.hpp: the socket file's life (stale file removed, live
// socket and regular file left alone, unlinked on close unless replaced), bad input, and
// a cancelled accept that leaves the connection for the next one.
#include <corio/net/unix_listener.hpp>

#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include "support/net_loopback.hpp"
#include "support/unix_fixture.hpp"

#include <fstream>
#include <iterator>
#include <string>

#include <unistd.h>

using corio::task;
using corio::net::unix_address;
using corio::net::unix_listen_options;
using corio::net::unix_listener;
using corio::net::unix_stream;
using namespace corio_test;

namespace {

unix_listen_options remove_stale() {
    unix_listen_options o;
    o.file.remove_stale = true;
    return o;
}

// Leaves a socket file nobody listens on, as a crashed server does.
void leave_stale_socket(const unix_address& at) {
    unix_listen_options keep;
    keep.file.unlink_on_close = false;
    auto l = listen_unix(at, keep);
}

std::string contents(const std::string& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
}

TEST_CASE("with remove_stale, a stale socket file is replaced and the new listener serves") {
    socket_dir dir;
    run_test([](socket_dir& dir) -> task<> {
        leave_stale_socket(dir.address("s.sock"));
        REQUIRE(is_socket_file(dir.path("s.sock")));
        auto listener = listen_unix(dir.address("s.sock"), remove_stale());
        auto [client, server] = co_await connect_unix_pair(listener);
        require_ok(co_await client.send_all(bytes_of("hi")), "send");
        auto got = co_await recv_exactly(server, 2);
        require_ok(got, "recv");
        CHECK(*got == "hi");
    }(dir));
}

TEST_CASE("without remove_stale, a stale socket file makes bind fail with EADDRINUSE") {
    socket_dir dir;
    leave_stale_socket(dir.address("s.sock"));
    auto l = unix_listener::bind(dir.address("s.sock"));
    REQUIRE_FALSE(l);
    CHECK(l.error() == std::errc::address_in_use);
    CHECK(is_socket_file(dir.path("s.sock")));
}

TEST_CASE("remove_stale leaves a live listener's socket alone: bind fails, the first still serves") {
    socket_dir dir;
    run_test([](socket_dir& dir) -> task<> {
        auto live = listen_unix(dir.address("live.sock"));
        auto second = unix_listener::bind(dir.address("live.sock"), remove_stale());
        REQUIRE_FALSE(second);
        CHECK(second.error() == std::errc::address_in_use);
        REQUIRE(is_socket_file(dir.path("live.sock")));
        auto [client, server] = co_await connect_unix_pair(live);
        CHECK(client.is_open());
    }(dir));
}

TEST_CASE("remove_stale never deletes a regular file: bind fails with EADDRINUSE") {
    socket_dir dir;
    std::ofstream(dir.path("data.txt")) << "precious";
    auto l = unix_listener::bind(dir.address("data.txt"), remove_stale());
    REQUIRE_FALSE(l);
    CHECK(l.error() == std::errc::address_in_use);
    CHECK(contents(dir.path("data.txt")) == "precious");
}

TEST_CASE("the socket file is unlinked on close() and on destruction, kept when asked") {
    socket_dir dir;
    {
        auto l = listen_unix(dir.address("a.sock"));
        REQUIRE(is_socket_file(dir.path("a.sock")));
        REQUIRE(l.close());
        CHECK_FALSE(is_socket_file(dir.path("a.sock")));
    }
    {
        auto l = listen_unix(dir.address("b.sock"));
        REQUIRE(is_socket_file(dir.path("b.sock")));
    }
    CHECK(::access(dir.path("b.sock").c_str(), F_OK) != 0);
    {
        unix_listen_options keep;
        keep.file.unlink_on_close = false;
        auto l = listen_unix(dir.address("c.sock"), keep);
    }
    CHECK(is_socket_file(dir.path("c.sock")));
}

TEST_CASE("a file that replaced the socket file at its path is not unlinked on close") {
    socket_dir dir;
    auto l = listen_unix(dir.address("r.sock"));
    REQUIRE(::unlink(dir.path("r.sock").c_str()) == 0);
    std::ofstream(dir.path("r.sock")) << "someone else's";
    REQUIRE(l.close());
    CHECK(contents(dir.path("r.sock")) == "someone else's");
}

TEST_CASE("a moved listener unlinks its file once, when the last owner closes") {
    socket_dir dir;
    auto first = listen_unix(dir.address("m.sock"));
    unix_listener second = std::move(first);
    first = unix_listener();
    CHECK(is_socket_file(dir.path("m.sock")));
    REQUIRE(second.close());
    CHECK_FALSE(is_socket_file(dir.path("m.sock")));
}

TEST_CASE("bind: a missing directory is ENOENT, unnamed or a negative backlog invalid_argument") {
    socket_dir dir;
    CHECK(unix_listener::bind(dir.address("no/such/dir.sock")).error() ==
          std::errc::no_such_file_or_directory);
    CHECK(unix_listener::bind(unix_address()).error() == std::errc::invalid_argument);
    unix_listen_options bad;
    bad.backlog = -1;
    CHECK(unix_listener::bind(dir.address("x.sock"), bad).error() == std::errc::invalid_argument);
    CHECK(::access(dir.path("x.sock").c_str(), F_OK) != 0);
}

TEST_CASE("a cancelled accept takes no connection: the next accept gets the waiting client") {
    run_test([]() -> task<> {
        auto listener = listen_unix(unique_abstract());
        std::stop_source stop;
        auto none = co_await listener.accept(stopped_once_parked(stop));
        CHECK(none.error() == std::errc::operation_canceled);
        auto client = co_await unix_stream::connect(*listener.local_address());
        require_ok(client, "connect");
        auto server = co_await listener.accept();
        require_ok(server, "accept");
        require_ok(co_await client->send_all(bytes_of("ok")), "send");
        auto got = co_await recv_exactly(*server, 2);
        require_ok(got, "recv");
        CHECK(*got == "ok");
    }());
}

}  // namespace
