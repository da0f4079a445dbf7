// SPDX-License-Identifier: MIT
// Tests for io_handle::writev on the backend under test: order, pipes, and more buffers than one
// call takes (IOV_MAX: a short count on every backend, io_uring included).
#include <corio/io_handle.hpp>

#include <catch2/catch.hpp>

#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/socket_pair.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

corio::task<corio::result<std::size_t>> writev_parts(corio::io_handle& h) {
    static constexpr char hello[] = "hello";
    static constexpr char comma[] = ", ";
    static constexpr char world[] = "world";
    const std::array<corio::const_buffer, 3> parts{{{hello, 5}, {comma, 2}, {world, 5}}};
    co_return co_await h.writev(parts);
}

corio::task<corio::result<std::size_t>> writev_ones(corio::io_handle& h,
                                                     const std::vector<corio::const_buffer>& parts) {
    co_return co_await h.writev(parts);
}

TEST_CASE("writev of more buffers than IOV_MAX sends the first IOV_MAX (a short count), on every "
          "backend alike") {
    corio::runtime rt;
    static const std::string bytes = [] {
        std::string s(2000, '\0');
        for (std::size_t i = 0; i < s.size(); ++i) {
            s[i] = static_cast<char>('a' + i % 26);
        }
        return s;
    }();
    std::vector<corio::const_buffer> parts;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        parts.push_back({bytes.data() + i, 1});
    }
    const std::size_t max = static_cast<std::size_t>(::sysconf(_SC_IOV_MAX));
    SECTION("on a socket") {
        corio_test::socket_pair pair;
        corio::io_handle h(pair.take(0));
        auto n = rt.block_on(writev_ones(h, parts));
        INFO("backend " << rt.backend_name() << ": " << (n ? "" : n.error().message()));
        REQUIRE(n);
        CHECK(*n == max);
        CHECK(corio_test::recv_text(pair.fd(1), 4096) == bytes.substr(0, max));
    }
    SECTION("on a pipe") {
        int fds[2];
        REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
        corio::io_handle reader(fds[0]);
        corio::io_handle writer(fds[1]);
        auto n = rt.block_on(writev_ones(writer, parts));
        INFO("backend " << rt.backend_name() << ": " << (n ? "" : n.error().message()));
        REQUIRE(n);
        CHECK(*n == max);
        std::string got(4096, '\0');
        const ssize_t r = ::read(fds[0], got.data(), got.size());
        REQUIRE(r == static_cast<ssize_t>(max));
        got.resize(static_cast<std::size_t>(r));
        CHECK(got == bytes.substr(0, max));
    }
}

TEST_CASE("writev sends its buffers in order as one byte stream") {
    corio::runtime rt;
    SECTION("on a socket") {
        corio_test::socket_pair pair;
        corio::io_handle h(pair.take(0));
        auto n = rt.block_on(writev_parts(h));
        REQUIRE(n);
        CHECK(*n == 12);
        CHECK(corio_test::recv_text(pair.fd(1)) == "hello, world");
    }
    SECTION("on a pipe") {
        int fds[2];
        REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
        corio::io_handle reader(fds[0]);
        corio::io_handle writer(fds[1]);
        auto n = rt.block_on(writev_parts(writer));
        REQUIRE(n);
        CHECK(*n == 12);
        char buf[32];
        const ssize_t got = ::read(fds[0], buf, sizeof buf);
        REQUIRE(got == 12);
        CHECK(std::string(buf, 12) == "hello, world");
    }
}

}  // namespace
