// SPDX-License-Identifier: MIT
// The program docs/buffered-reader.md shows, compiled and run: a framed protocol (a length line,
// then that many bytes) read with read_line and read_exact, answered on the same stream.
#include <corio/buffered_reader.hpp>

#include <corio/net/tcp_stream.hpp>
#include <corio/task.hpp>

#include <catch2/catch.hpp>

#include "support/net_loopback.hpp"

#include <charconv>
#include <cstddef>
#include <string>
#include <system_error>

namespace {

// docs/buffered-reader.md, "A framed protocol".
corio::task<corio::result<void>> serve_frames(corio::net::tcp_stream& s) {
    corio::buffered_reader in(s, 20);  // refers to s; a header line is at most 20 bytes
    for (;;) {
        auto header = co_await in.read_line();
        if (!header) {
            co_return header.error();  // line_too_long, ECONNRESET, operation_canceled...
        }
        if (!*header) {
            co_return corio::result<void>();  // the client is done
        }
        std::size_t size = 0;
        const std::string& h = **header;
        auto [end, ec] = std::from_chars(h.data(), h.data() + h.size(), size);
        if (ec != std::errc{} || end != h.data() + h.size() || size > 1024 * 1024) {
            co_return std::errc::bad_message;
        }
        auto body = co_await in.read_exact(size);
        if (!body) {
            co_return body.error();  // errc::unexpected_eof: the client stopped mid-frame
        }
        const std::string reply = "got " + std::to_string(body->size()) + " bytes\n";
        if (auto sent = co_await s.send_all(std::as_bytes(std::span(reply))); !sent) {
            co_return sent.error();
        }
    }
}

}  // namespace

TEST_CASE("docs/buffered-reader.md: a length line, then the body; each frame is answered") {
    corio_test::run_test([]() -> corio::task<> {
        auto listener = corio_test::bind_loopback();
        auto [client, server] = co_await corio_test::connect_pair(listener);
        corio_test::require_ok(co_await client.send_all(corio_test::bytes_of("5\nhello3\r\nabc")),
                               "send");
        REQUIRE(client.shutdown(corio::shutdown_how::send));
        auto served = co_await serve_frames(server);
        corio_test::require_ok(served, "serve_frames");
        (void)server.close();
        auto replies = co_await corio_test::recv_to_end(client);
        REQUIRE(replies);
        CHECK(*replies == "got 5 bytes\ngot 3 bytes\n");
    }());
}
