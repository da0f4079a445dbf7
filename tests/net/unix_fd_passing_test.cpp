// SPDX-License-Identifier: MIT
// Tests for unix_stream's descriptor passing (send_fds/recv_fds, SCM_RIGHTS): a passed
// descriptor works on the other side and is close-on-exec, several in one message, more than
// the receiver has room for (MSG_CTRUNC) closes what came, bad input, and cancellation.
#include <corio/net/unix_stream.hpp>

#include <corio/error.hpp>
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include "support/net_loopback.hpp"
#include "support/unix_fixture.hpp"

#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

using corio::task;
using corio::net::received_fds;
using corio::net::unix_stream;
using namespace corio_test;

namespace {

// A pipe whose ends close with it (blocking: the test reads and writes it directly).
struct pipe_ends {
    int fd[2] = {-1, -1};
    pipe_ends() { REQUIRE(::pipe2(fd, O_CLOEXEC) == 0); }
    ~pipe_ends() {
        ::close(fd[0]);
        ::close(fd[1]);
    }
};

// How many of this process's descriptors refer to the same file as `fd` (for a pipe: either
// end). Counting only these, not all descriptors, keeps the runtime's own (libkqueue opens and
// closes some as it goes) out of the count.
std::size_t open_refs(int fd) {
    const auto target = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd));
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code gone;  // the iterator's own descriptor is listed but closed by now
        if (std::filesystem::read_symlink(e.path(), gone) == target) {
            ++n;
        }
    }
    return n;
}

bool close_on_exec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

TEST_CASE("a passed pipe end works on the other side, is close-on-exec, and came with its bytes") {
    run_test([]() -> task<> {
        auto [a, b] = stream_socketpair();
        pipe_ends p;
        const int to_send[] = {p.fd[1]};
        auto sent = co_await a.send_fds(bytes_of("fd!"), to_send);
        require_ok(sent, "send_fds");
        CHECK(*sent == 3);
        std::array<std::byte, 16> buf{};
        auto got = co_await b.recv_fds(buf, 4);
        require_ok(got, "recv_fds");
        CHECK(std::string_view(reinterpret_cast<const char*>(buf.data()), got->size) == "fd!");
        REQUIRE(got->fds.size() == 1);
        const int write_end = got->fds[0].get();
        CHECK(write_end != p.fd[1]);
        CHECK(close_on_exec(write_end));
        REQUIRE(::write(write_end, "through", 7) == 7);
        char out[8] = {};
        REQUIRE(::read(p.fd[0], out, sizeof out) == 7);
        CHECK(std::string_view(out, 7) == "through");
    }());
}

TEST_CASE("three descriptors in one message arrive as three owned descriptors") {
    run_test([]() -> task<> {
        auto [a, b] = stream_socketpair();
        pipe_ends p1, p2, p3;
        const int to_send[] = {p1.fd[1], p2.fd[1], p3.fd[1]};
        require_ok(co_await a.send_fds(bytes_of("3"), to_send), "send_fds");
        std::array<std::byte, 4> buf{};
        auto refs = [&] { return open_refs(p1.fd[0]) + open_refs(p2.fd[0]) + open_refs(p3.fd[0]); };
        const std::size_t before = refs();  // both ends of each pipe: 6
        {
            auto got = co_await b.recv_fds(buf, corio::net::max_fds_per_message);
            require_ok(got, "recv_fds");
            REQUIRE(got->fds.size() == 3);
            CHECK(refs() == before + 3);
            for (const auto& fd : got->fds) {
                CHECK(close_on_exec(fd.get()));
            }
        }
        CHECK(refs() == before);  // the result owned them, and closed them
    }());
}

TEST_CASE("more descriptors than recv_fds has room for is descriptors_truncated, and none leak") {
    run_test([]() -> task<> {
        auto [a, b] = stream_socketpair();
        pipe_ends p1, p2, p3;
        const int to_send[] = {p1.fd[1], p2.fd[1], p3.fd[1]};
        const std::size_t before = open_refs(p1.fd[0]) + open_refs(p2.fd[0]) + open_refs(p3.fd[0]);
        require_ok(co_await a.send_fds(bytes_of("x"), to_send), "send_fds");
        std::array<std::byte, 4> buf{};
        auto got = co_await b.recv_fds(buf, 1);
        REQUIRE_FALSE(got);
        CHECK(got.error() == corio::errc::descriptors_truncated);
        CHECK(open_refs(p1.fd[0]) + open_refs(p2.fd[0]) + open_refs(p3.fd[0]) == before);
        // A plain recv takes no descriptors either: they are closed, not leaked.
        require_ok(co_await a.send_fds(bytes_of("y"), to_send), "send_fds again");
        auto plain = co_await b.recv(buf);
        require_ok(plain, "recv");
        CHECK(*plain == 1);
        CHECK(open_refs(p1.fd[0]) + open_refs(p2.fd[0]) + open_refs(p3.fd[0]) == before);
    }());
}

TEST_CASE("recv_fds of bytes sent without descriptors gets the bytes and no descriptor") {
    run_test([]() -> task<> {
        auto [a, b] = stream_socketpair();
        require_ok(co_await a.send_all(bytes_of("plain")), "send");
        std::array<std::byte, 8> buf{};
        auto got = co_await b.recv_fds(buf, 2);
        require_ok(got, "recv_fds");
        CHECK(got->size == 5);
        CHECK(got->fds.empty());
        REQUIRE(a.close());
        auto end = co_await b.recv_fds(buf, 2);
        require_ok(end, "recv_fds at end");
        CHECK(end->size == 0);
    }());
}

TEST_CASE("send_fds and recv_fds refuse bad input with an error value") {
    run_test([]() -> task<> {
        auto [a, b] = stream_socketpair();
        pipe_ends p;
        const int one[] = {p.fd[1]};
        auto empty = co_await a.send_fds({}, one);
        CHECK(empty.error() == std::errc::invalid_argument);
        std::array<int, corio::net::max_fds_per_message + 1> many{};
        many.fill(p.fd[1]);
        auto too_many = co_await a.send_fds(bytes_of("x"), many);
        CHECK(too_many.error() == std::errc::invalid_argument);
        const int bad[] = {-1};
        auto bad_fd = co_await a.send_fds(bytes_of("x"), bad);
        CHECK(bad_fd.error() == std::errc::bad_file_descriptor);
        std::array<std::byte, 4> buf{};
        auto room = co_await b.recv_fds(buf, corio::net::max_fds_per_message + 1);
        CHECK(room.error() == std::errc::invalid_argument);
    }());
}

TEST_CASE("a cancelled recv_fds consumes nothing: the bytes and descriptor sent next arrive") {
    run_test([]() -> task<> {
        auto [a, b] = stream_socketpair();
        std::stop_source stop;
        std::array<std::byte, 8> buf{};
        auto none = co_await b.recv_fds(buf, 1, stopped_once_parked(stop));
        CHECK(none.error() == std::errc::operation_canceled);
        pipe_ends p;
        const int one[] = {p.fd[0]};
        require_ok(co_await a.send_fds(bytes_of("later"), one), "send_fds");
        auto got = co_await b.recv_fds(buf, 1);
        require_ok(got, "recv_fds");
        CHECK(got->size == 5);
        CHECK(got->fds.size() == 1);
    }());
}

}  // namespace
