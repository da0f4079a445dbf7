// SPDX-License-Identifier: MIT
// An HTTP connection between requests: empty lines after a request leave it idle (RFC 9112
// §2.2), and each response's Date is the time its head was built.
#include "support/http_fixture.hpp"

#include <corio/clock.hpp>

#include <ctime>
#include <string>

namespace {

using namespace corio_test;
using namespace std::chrono_literals;

constexpr std::string_view plaintext = "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";

// Sends `text` and waits until the server has read all it was sent so far, `sent` included.
task<> send_and_seen(fixture& f, tcp_stream& s, std::string_view text, std::uint64_t& sent) {
    co_await send(s, text);
    sent += text.size();
    const bool seen = co_await turns_until([&f, &sent] { return f.srv->metrics().bytes_in == sent; });
    REQUIRE(seen);
}

// One request answered, then `after` sent and read by the server.
task<> answered_then(fixture& f, tcp_stream& s, response_reader& rd, std::uint64_t& sent,
                     std::string_view after) {
    co_await send_and_seen(f, s, plaintext, sent);
    const reply first = co_await rd.next();
    CHECK(first.status() == 200);
    co_await send_and_seen(f, s, after, sent);
}

TEST_CASE("http connection: a CRLF after a request leaves the connection idle: the idle "
          "timeout applies, not the header timeout, and it is not extended") {
    corio::manual_clock clock;
    run_on_clock(clock, [](corio::manual_clock& clock) -> task<> {
        server_options o;
        o.header_timeout = 10s;
        o.idle_timeout = 60s;
        fixture f(o);
        tcp_stream s = co_await f.connect();
        response_reader rd{s};
        std::uint64_t sent = 0;
        co_await answered_then(f, s, rd, sent, "\r\n\r\n");
        clock.advance(30s);  // past the header timeout, within the idle one
        (void)co_await turns_until([] { return false; }, 10);  // lets a due timer fire
        co_await send(s, plaintext);
        sent += plaintext.size();
        const reply second = co_await rd.next();
        REQUIRE_FALSE(second.closed);  // was: cut by the header timeout, no answer
        CHECK(second.status() == 200);

        // Empty lines do not restart the idle timeout: 61 s after the answer it is closed.
        clock.advance(30s);
        co_await send_and_seen(f, s, "\r\n", sent);
        clock.advance(31s);
        const bool closed =
            co_await turns_until([&f] { return f.srv->metrics().open_connections == 0; });
        CHECK(closed);
        (void)s.close();
        co_await f.stop();
    }(clock));
}

TEST_CASE("http connection: stop() closes at once a connection that sent a CRLF after its "
          "request") {
    corio::manual_clock clock;  // the shutdown grace ends only if the test moves it
    run_on_clock(clock, []() -> task<> {
        fixture f;
        tcp_stream s = co_await f.connect();
        response_reader rd{s};
        std::uint64_t sent = 0;
        co_await answered_then(f, s, rd, sent, "\r\n");
        f.srv->stop();
        const bool closed =
            co_await turns_until([&f] { return f.srv->metrics().open_connections == 0; });
        CHECK(closed);  // was: kept until the grace ran out, as if mid-request
        (void)s.close();  // ends a failed run's connection too: the server reads the end
        (void)co_await f.done.wait();
    }());
}

// The wall clock's second, as the server's Date reads it.
std::time_t wall_second() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return ts.tv_sec;
}

std::time_t parse_date(const std::string& text) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    REQUIRE(end != nullptr);
    return ::timegm(&tm);
}

TEST_CASE("http connection: Date is the time the response head is built, not when its request "
          "arrived") {
    std::time_t finished_at = 0;
    run_test([](std::time_t& finished_at) -> task<> {
        fixture f({}, [&finished_at](router& r) {
            // Answers once the wall clock's second has moved on since it began, and no sooner
            // than 100 ms (the date cache reads the wall clock again 50 ms after its last read).
            r.route(method::get, "/next-second", [&finished_at](const request&) -> task<response> {
                const std::time_t began = wall_second();
                (void)co_await corio::sleep_for(100ms);
                while (wall_second() == began) {
                    (void)co_await corio::sleep_for(20ms);
                }
                finished_at = wall_second();
                co_return response(200, "later");
            });
        });
        tcp_stream s = co_await f.connect();
        response_reader rd{s};
        // One read brings both: the second's Date was taken from that read's time.
        co_await send(s, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
                         "GET /next-second HTTP/1.1\r\nHost: x\r\n\r\n");
        const reply first = co_await rd.next();
        const reply second = co_await rd.next();
        CHECK(second.body == "later");
        const std::time_t first_date = parse_date(first.field("Date"));
        const std::time_t second_date = parse_date(second.field("Date"));
        CAPTURE(first.field("Date"), second.field("Date"), finished_at);
        CHECK(second_date >= finished_at);
        CHECK(second_date > first_date);
        co_await f.stop();
    }(finished_at));
}

}  // namespace
