// SPDX-License-Identifier: MIT
// A connection reset by the peer: the reader learns of it (ECONNRESET), so a truncated stream
// never passes for a complete one, whichever pending operation the kernel reports it to first.
#include <corio/io_handle.hpp>

#include <catch2/catch.hpp>

#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/emulated_kqueue.hpp"
#include "support/socket_pair.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <system_error>

#include <sys/socket.h>
#include <unistd.h>

namespace {

using corio::task;

/// Closes `fd` with SO_LINGER {on, 0}: the kernel sends a RST instead of a FIN.
void reset(corio_test::fd_pair& pair, int end) {
    const linger hard{1, 0};
    REQUIRE(::setsockopt(pair.fd(end), SOL_SOCKET, SO_LINGER, &hard, sizeof hard) == 0);
    pair.close(end);
}

struct outcome {
    corio::result<std::size_t> read = std::errc::io_error;
    corio::result<std::size_t> wrote = std::errc::io_error;
};

TEST_CASE("a reset while a recv and a send are both pending reaches the reader as ECONNRESET") {
    if (corio_test::on_emulated_kqueue()) {
        WARN("skipped on libkqueue: it reads SO_ERROR itself when it reports the event "
             "(src/linux/read.c, write.c), which clears the error this test expects");
        return;
    }
    corio::runtime rt;
    corio_test::tcp_pair pair;
    corio::io_handle h(pair.take(0));
    // The send parks: our send buffer and the peer's receive buffer are full.
    REQUIRE(corio_test::fill_send_buffer(h.fd()) > 0);
    const outcome got = rt.block_on([](corio::io_handle& h, corio_test::tcp_pair& pair) -> task<outcome> {
        outcome out;
        corio::event read_done;
        corio::event wrote_done;
        corio::spawn([](corio::io_handle& h, outcome& out, corio::event& done) -> task<> {
            std::array<std::byte, 64> buf;
            out.read = co_await h.recv(buf);
            done.set();
        }(h, out, read_done));
        corio::spawn([](corio::io_handle& h, outcome& out, corio::event& done) -> task<> {
            const std::string more(4096, 'y');
            out.wrote = co_await h.send(corio_test::as_bytes(more));
            done.set();
        }(h, out, wrote_done));
        co_await corio::yield();  // both are parked (submitted, on io_uring)
        co_await corio::yield();
        reset(pair, 1);
        (void)co_await read_done.wait();
        (void)co_await wrote_done.wait();
        co_return out;
    }(h, pair));
    INFO("recv: " << (got.read ? std::to_string(*got.read) + " bytes" : got.read.error().message()));
    REQUIRE_FALSE(got.read);
    CHECK(got.read.error() == std::errc::connection_reset);
    // The writer fails too (which of ECONNRESET and EPIPE depends on who saw the reset first).
    REQUIRE_FALSE(got.wrote);
    CHECK((got.wrote.error() == std::errc::connection_reset ||
           got.wrote.error() == std::errc::broken_pipe));
}

}  // namespace
