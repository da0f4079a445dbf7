// SPDX-License-Identifier: MIT
// Tests for corio/buffered_reader.hpp over real sockets on the backend under test: lines split
// at every byte boundary (a stream that hands out the socket's bytes in chosen chunk sizes),
// CRLF, the end of stream cases, the maximum line length and skipping the rest of a line,
// read_exact short and large, cancellation mid-line keeping the data, and a reader sharing a
// tcp_stream with a task that sends on it.
#include <corio/buffered_reader.hpp>

#include <corio/io_handle.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/task_group.hpp>

#include <catch2/catch.hpp>

#include "support/net_loopback.hpp"
#include "support/socket_pair.hpp"

#include <cstddef>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <sys/socket.h>

using corio::task;
using corio_test::run_test;

namespace {

using line_result = corio::result<std::optional<std::string>>;

// A stream over one end of a socket pair whose recv returns at most the next of `chunks` bytes
// (then whatever fits): the reader sees the data split exactly there, on any backend.
struct chunked_stream {
    corio::io_handle h;
    std::vector<std::size_t> chunks;
    std::size_t next = 0;
    auto recv(std::span<std::byte> buf, std::stop_token token) {
        while (next < chunks.size() && chunks[next] == 0) {
            ++next;  // a split at the very start or end: no empty receive (that means the end)
        }
        if (next < chunks.size()) {
            buf = buf.first(std::min(buf.size(), chunks[next++]));
        }
        return h.recv(buf, std::move(token));
    }
};

// The peer's end, with `text` sent and the sending direction shut (end of stream after it).
struct fed_pair {
    corio_test::socket_pair pair;
    explicit fed_pair(std::string_view text, bool end = true) {
        REQUIRE(corio_test::send_text(pair.fd(1), text) == static_cast<ssize_t>(text.size()));
        if (end) {
            ::shutdown(pair.fd(1), SHUT_WR);
        }
    }
    corio::io_handle reader_end() { return corio::io_handle(pair.take(0)); }
};

// Every line read_line returns until the end of stream, "!" + the error's message on an error.
template <class S>
task<std::vector<std::string>> all_lines(corio::buffered_reader<S>& r) {
    std::vector<std::string> lines;
    for (;;) {
        auto line = co_await r.read_line();
        if (!line) {
            lines.push_back("!" + line.error().message());
            break;
        }
        if (!*line) {
            break;
        }
        lines.push_back(std::move(**line));
    }
    co_return lines;
}

bool is_error(const line_result& r, std::error_code e) { return !r && r.error() == e; }

// A line as text: the line, "<end>" at end of stream, "!" + the error's message.
std::string text_of(const line_result& r) {
    if (!r) {
        // Appended, not "!" + message(): g++ 12 -O3 warns (-Wrestrict) on operator+(const char*,
        // string&&), a known false positive.
        std::string text = "!";
        text += r.error().message();
        return text;
    }
    return *r ? **r : "<end>";
}

}  // namespace

TEST_CASE("buffered_reader accepts tcp_stream, io_handle and references to them") {
    STATIC_REQUIRE(corio::async_read_stream<corio::net::tcp_stream>);
    STATIC_REQUIRE(std::is_same_v<decltype(corio::buffered_reader(std::declval<corio::net::tcp_stream&>())),
                                  corio::buffered_reader<corio::net::tcp_stream&>>);
    STATIC_REQUIRE(std::is_same_v<decltype(corio::buffered_reader(std::declval<corio::net::tcp_stream>())),
                                  corio::buffered_reader<corio::net::tcp_stream>>);
    STATIC_REQUIRE(std::is_same_v<decltype(corio::buffered_reader(std::declval<corio::io_handle&>(), 10)),
                                  corio::buffered_reader<corio::io_handle&>>);
}

TEST_CASE("lines split at every byte boundary, into two and three receives, come out whole") {
    const std::string text = "ab\r\n\ncd\r\nlast\r";
    const std::vector<std::string> expected = {"ab", "", "cd", "last\r"};
    run_test([&]() -> task<> {
        for (std::size_t i = 0; i <= text.size(); ++i) {
            for (std::size_t j = i; j <= text.size(); ++j) {
                fed_pair fed(text);
                corio::buffered_reader r(chunked_stream{fed.reader_end(), {i, j - i, 1}});
                auto lines = co_await all_lines(r);
                INFO("split at " << i << " and " << j);
                CHECK(lines == expected);
            }
        }
        fed_pair bytewise(text);  // one byte per receive throughout
        corio::buffered_reader r(chunked_stream{bytewise.reader_end(), std::vector<std::size_t>(64, 1)});
        auto lines = co_await all_lines(r);
        CHECK(lines == expected);
    }());
}

TEST_CASE("read_until with a string or byte delimiter keeps it; the rest at end of stream lacks it") {
    const std::string text = "one--two--three-";
    run_test([&]() -> task<> {
        for (std::size_t i = 0; i <= text.size(); ++i) {
            fed_pair fed(text);
            corio::buffered_reader r(chunked_stream{fed.reader_end(), {i}});
            std::vector<std::string> parts;
            for (;;) {
                auto part = co_await r.read_until("--");
                REQUIRE(part);
                if (!*part) {
                    break;
                }
                parts.push_back(std::move(**part));
            }
            INFO("split at " << i);
            CHECK(parts == std::vector<std::string>{"one--", "two--", "three-"});
        }
        fed_pair fed("a;b;");
        corio::buffered_reader r(fed.reader_end());
        auto a = co_await r.read_until(';');
        auto b = co_await r.read_until(';', 2);
        auto end = co_await r.read_until(';');
        CHECK(text_of(a) == "a;");
        CHECK(text_of(b) == "b;");
        CHECK(text_of(end) == "<end>");
        CHECK_THROWS_AS(r.read_until(""), corio::usage_error);
    }());
}

TEST_CASE("end of stream: nothing buffered is nullopt, a last line without newline is returned") {
    run_test([]() -> task<> {
        fed_pair empty("");
        corio::buffered_reader r(empty.reader_end());
        auto none = co_await r.read_line();
        CHECK(text_of(none) == "<end>");
        auto again = co_await r.read_line();  // the end of stream stays the end
        CHECK(text_of(again) == "<end>");

        fed_pair tail("x\ny");
        corio::buffered_reader t(tail.reader_end());
        auto l1 = co_await t.read_line();
        CHECK(text_of(l1) == "x");
        auto l2 = co_await t.read_line();
        CHECK(text_of(l2) == "y");
        auto after = co_await t.read_line();
        CHECK(text_of(after) == "<end>");
    }());
}

TEST_CASE("a line over the maximum is line_too_long, consumes nothing, and skip_until skips it") {
    run_test([]() -> task<> {
        // Exactly max fits with "\n" and with "\r\n"; max + 1 does not, nor at end of stream.
        fed_pair fed("12345\n12345\r\n123456\r\nnext\n1234567");
        corio::buffered_reader r(fed.reader_end(), 5);
        auto l3 = co_await r.read_line();
        CHECK(text_of(l3) == "12345");
        auto l4 = co_await r.read_line();
        CHECK(text_of(l4) == "12345");
        auto big = co_await r.read_line();
        CHECK(is_error(big, corio::errc::line_too_long));
        CHECK(corio_test::as_string(r.buffered()).starts_with("123456\r\n"));
        auto skipped = co_await r.skip_until('\n');
        REQUIRE(skipped);
        CHECK(*skipped == 8);
        auto l5 = co_await r.read_line();
        CHECK(text_of(l5) == "next");
        auto last = co_await r.read_line();  // end of stream after 7 bytes
        CHECK(is_error(last, corio::errc::line_too_long));
        auto l6 = co_await r.read_line(7);
        CHECK(text_of(l6) == "1234567");  // a larger per-call maximum
    }());
}

TEST_CASE("a line longer than the maximum that never ends does not grow the buffer unbounded") {
    corio_test::socket_pair pair;
    const std::size_t sent = corio_test::fill_send_buffer(pair.fd(1));
    run_test([&]() -> task<> {
        corio::buffered_reader r(corio::io_handle(pair.take(0)), 1000);
        auto line = co_await r.read_line();
        CHECK(is_error(line, corio::errc::line_too_long));
        CHECK(r.buffered().size() >= 1000);
        CHECK(r.buffered().size() < 16 * 1024);  // a receive or two, not all `sent` bytes
        CHECK(sent > 16 * 1024);
        // skip_until discards as it goes: it ends at end of stream, having dropped everything.
        ::shutdown(pair.fd(1), SHUT_WR);
        auto skipped = co_await r.skip_until('\n');
        CHECK((!skipped && skipped.error() == corio::errc::unexpected_eof));
        CHECK(r.buffered().empty());
    }());
}

TEST_CASE("read_exact: exact sizes, small and large; a short stream leaves what came buffered") {
    std::string big(100000, '\0');
    corio_test::fill_pattern(7, 0, std::as_writable_bytes(std::span(big)));
    run_test([&]() -> task<> {
        fed_pair fed("head" + big.substr(0, 40000), false);
        corio::buffered_reader r(fed.reader_end());
        auto head = co_await r.read_exact(4);
        REQUIRE(head);
        CHECK(corio_test::as_string(*head) == "head");
        std::string got(big.size(), '\0');
        corio::io_handle writer(fed.pair.take(1));
        corio::task_group g;
        corio::result<void> whole = std::errc::io_error;
        g.spawn([](corio::buffered_reader<corio::io_handle>& r, std::string& got,
                   corio::result<void>& out) -> task<> {
            out = co_await r.read_exact(std::as_writable_bytes(std::span(got)));
        }(r, got, whole));
        // The rest arrives while it waits; then the stream ends 10 bytes early on a second read.
        std::size_t off = 40000;
        while (off < big.size()) {
            auto n = co_await writer.send(corio_test::as_bytes(std::string_view(big).substr(off)));
            REQUIRE(n);
            off += *n;
        }
        co_await g.join();
        REQUIRE(whole);
        CHECK(got == big);

        REQUIRE(corio_test::send_text(writer.fd(), "0123456789") == 10);
        ::shutdown(writer.fd(), SHUT_WR);
        auto small = co_await r.read_exact(20);
        CHECK((!small && small.error() == corio::errc::unexpected_eof));
        CHECK(corio_test::as_string(r.buffered()) == "0123456789");  // how many arrived: 10
    }());
}

TEST_CASE("a large read_exact cut short by the end of stream hands back every byte it got") {
    std::string part(30000, 'q');
    run_test([&]() -> task<> {
        fed_pair fed("ab" + part);
        corio::buffered_reader r(fed.reader_end());
        auto l7 = co_await r.read_until('b');
        CHECK(text_of(l7) == "ab");
        std::vector<std::byte> out(50000);
        auto got = co_await r.read_exact(out);
        CHECK((!got && got.error() == corio::errc::unexpected_eof));
        CHECK(r.buffered().size() == part.size());
        std::vector<std::byte> again(part.size());
        auto some = co_await r.read_some(again);
        REQUIRE(some);
        CHECK(*some == part.size());
        CHECK(corio_test::as_string(again) == part);
    }());
}

TEST_CASE("a read_line cancelled mid-line keeps what arrived; the next read_line returns it whole") {
    run_test([]() -> task<> {
        fed_pair fed("hel", false);
        corio::buffered_reader r(fed.reader_end());
        std::stop_source stop;
        corio::event filled;
        line_result first = std::string();
        corio::task_group g;
        g.spawn([](corio::buffered_reader<corio::io_handle>& r, std::stop_token token,
                   corio::event& filled, line_result& out) -> task<> {
            auto n = co_await r.fill();  // "hel" is now buffered
            REQUIRE(n);
            filled.set();
            out = co_await r.read_line(std::move(token));
        }(r, stop.get_token(), filled, first));
        (void)co_await filled.wait();
        stop.request_stop();
        co_await g.join();
        CHECK(is_error(first, std::make_error_code(std::errc::operation_canceled)));
        CHECK(corio_test::as_string(r.buffered()) == "hel");
        REQUIRE(corio_test::send_text(fed.pair.fd(1), "lo\r\n") == 4);
        auto l8 = co_await r.read_line();
        CHECK(text_of(l8) == "hello");
    }());
}

TEST_CASE("a second operation while one is pending is a usage_error") {
    run_test([]() -> task<> {
        fed_pair fed("", false);
        corio::buffered_reader r(fed.reader_end());
        corio::task_group g;
        g.spawn([](corio::buffered_reader<corio::io_handle>& r) -> task<> {
            (void)co_await r.read_line();
        }(r));
        bool threw = false;
        try {
            (void)co_await r.read_line();
        } catch (const corio::usage_error&) {
            threw = true;
        }
        CHECK(threw);
        g.cancel();
        co_await g.join();
    }());
}

TEST_CASE("a reader of a tcp_stream& reads lines while another task sends on the same stream") {
    run_test([]() -> task<> {
        auto listener = corio_test::bind_loopback();
        auto [client, server] = co_await corio_test::connect_pair(listener);
        corio::buffered_reader lines(server);  // refers to `server`
        corio::task_group g;
        line_result got = std::string();
        g.spawn([](corio::buffered_reader<corio::net::tcp_stream&>& r, line_result& out) -> task<> {
            out = co_await r.read_line();
        }(lines, got));
        // While the reader waits, the same socket sends; the client answers with the line.
        corio_test::require_ok(co_await lines.stream().send_all(corio_test::bytes_of("ping\n")),
                               "send");
        auto ping = co_await corio_test::recv_exactly(client, 5);
        REQUIRE(ping);
        CHECK(*ping == "ping\n");
        corio_test::require_ok(co_await client.send_all(corio_test::bytes_of("pong\r\n")), "reply");
        co_await g.join();
        CHECK(text_of(got) == "pong");
    }());
}

TEST_CASE("read_some: buffered bytes first, then straight from the stream; 0 at end of stream") {
    std::string big(20000, 'z');
    run_test([&]() -> task<> {
        fed_pair fed("abc\n" + big);
        corio::buffered_reader r(chunked_stream{fed.reader_end(), {6}});
        auto line = co_await r.read_line();
        CHECK(text_of(line) == "abc");
        std::vector<std::byte> small(1);
        auto one = co_await r.read_some(small);  // "zz" is buffered: one byte of it, no receive
        CHECK((one && *one == 1));
        CHECK(r.buffered().size() == 1);
        // The rest: the buffered "z" alone, then large reads go straight into `out`.
        std::vector<std::byte> out(big.size() - 1);
        std::size_t got = 0;
        while (got < out.size()) {
            auto n = co_await r.read_some(std::span(out).subspan(got));
            REQUIRE(n);
            REQUIRE(*n > 0);
            got += *n;
        }
        CHECK(corio_test::as_string(out) == big.substr(1));
        auto end = co_await r.read_some(out);
        CHECK((end && *end == 0));
    }());
}

TEST_CASE("a task parked in read_line with part of a line buffered is destroyed cleanly at teardown") {
    corio_test::socket_pair pair;
    REQUIRE(corio_test::send_text(pair.fd(1), "partial") == 7);
    bool started = false;
    run_test([&]() -> task<> {
        corio::spawn([](int fd, bool& started) -> task<> {
            corio::buffered_reader r(corio::io_handle{fd});
            started = true;
            (void)co_await r.read_line();  // never completes: the runtime destroys this frame
        }(pair.take(0), started));
        co_await corio::yield();
        CHECK(started);
    }());
}
