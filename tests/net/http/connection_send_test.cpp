// SPDX-License-Identifier: MIT
// An HTTP connection's send side: the idle deadline while answers go out measures a stall, not
// the write's length (a slow but steady reader gets everything, a stalled one is cut).
#include "support/http_fixture.hpp"

#include <corio/clock.hpp>

#include "support/clock_steps.hpp"

#include <cstdlib>
#include <string>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace corio_test;
using namespace std::chrono_literals;

// Far beyond the small socket buffers below: sending it takes many slices of the reader's.
constexpr std::size_t answer_size = 8 << 20;
constexpr std::size_t slice = 256 << 10;  // what the reader takes per step of the clock

char pattern_at(std::size_t i) noexcept { return static_cast<char>('a' + i % 26); }

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        s[i] = pattern_at(i);
    }
    return s;
}

// Small kernel buffers on both sides, so what the server has handed over is close to what the
// reader has read: its writes wait for the reader. An accepted socket inherits the listener's.
void small_socket_buffers(int fd) {
    const int bytes = 32 << 10;
    REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) == 0);
    REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) == 0);
}

// A file of answer_size pattern bytes, removed with it.
struct temp_file {
    std::string path = "/tmp/corio-send-XXXXXX";
    temp_file() {
        const int fd = ::mkstemp(path.data());
        REQUIRE(fd >= 0);
        const std::string text = pattern(answer_size);
        REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
        ::close(fd);
    }
    ~temp_file() { ::unlink(path.c_str()); }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
};

// /big answers answer_size pattern bytes from memory, /file the same from `file` (sendfile);
// each sets `asked` as it returns.
std::function<void(router&)> big_routes(const temp_file& file, corio::event& asked) {
    return [&file, &asked](router& r) {
        r.route(method::get, "/big", [&asked](const request&) -> task<response> {
            asked.set();
            co_return response(200, pattern(answer_size), "application/octet-stream");
        });
        r.route(method::get, "/file", [&file, &asked](const request&) -> task<response> {
            asked.set();
            response res(200, {}, "application/octet-stream");
            res.file(file_body{::open(file.path.c_str(), O_RDONLY | O_CLOEXEC), answer_size});
            co_return res;
        });
    };
}

// Connects to `f` with small socket buffers on both ends and asks for `path`.
task<tcp_stream> ask_on_small_buffers(fixture& f, std::string path) {
    small_socket_buffers(f.listener.handle().fd());
    tcp_stream s = co_await f.connect();
    small_socket_buffers(s.handle().fd());
    const std::string ask = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    co_await send(s, ask);
    co_return s;
}

// What a reader got: the body bytes that came and whether they were the pattern's.
struct download {
    std::size_t body = 0;
    bool exact = true;
};

// Reads the answer to `request` a slice at a time, moving the clock `step` after each slice
// (the server's writes wait for the slices), until the peer closes or the whole body came.
task<download> read_slowly(tcp_stream& s, corio::manual_clock& clock,
                           corio::clock_type::duration step) {
    download d;
    std::string head;
    bool in_body = false;
    std::size_t this_slice = 0;
    while (d.body < answer_size) {
        std::byte buf[64 << 10];
        auto n = co_await s.recv(buf);
        if (!n || *n == 0) {
            break;
        }
        std::string_view got(reinterpret_cast<const char*>(buf), *n);
        if (!in_body) {
            head.append(got);
            const std::size_t end = head.find("\r\n\r\n");
            if (end == std::string::npos) {
                continue;
            }
            got = std::string_view(head).substr(end + 4);
            in_body = true;
        }
        for (const char ch : got) {
            d.exact = d.exact && ch == pattern_at(d.body++);
        }
        this_slice += *n;
        if (this_slice >= slice) {
            this_slice = 0;
            clock.advance(step);
        }
    }
    co_return d;
}

constexpr std::chrono::milliseconds idle = 1s;

// What a test does once its client has asked for the big answer.
using big_check = task<> (*)(corio::manual_clock& clock, fixture& f, tcp_stream& s,
                             corio::event& asked);

// Runs `check` on a manual clock against a server with big_routes and an idle timeout of
// `idle`, its client on small socket buffers having asked for `path`.
void run_big_answer(std::string path, big_check check) {
    corio::manual_clock clock;
    temp_file file;
    run_on_clock(clock, [](corio::manual_clock& clock, const temp_file& file, std::string path,
                           big_check check) -> task<> {
        server_options o;
        o.idle_timeout = idle;
        corio::event asked;
        fixture f(o, big_routes(file, asked));
        tcp_stream s = co_await ask_on_small_buffers(f, path);
        co_await check(clock, f, s, asked);
        (void)s.close();
        co_await f.stop();
    }(clock, file, std::move(path), check));
}

TEST_CASE("http connection send: a slow but steady reader gets an answer that takes many idle "
          "timeouts to send, from memory and from a file") {
    const char* const path = GENERATE("/big", "/file");
    CAPTURE(path);
    run_big_answer(path, [](corio::manual_clock& clock, fixture&, tcp_stream& s,
                            corio::event&) -> task<> {
        const corio::clock_type::time_point start = clock.now();
        // 32 slices, a quarter of the idle timeout apart: 8 timeouts' worth, never a stalled one.
        const download d = co_await read_slowly(s, clock, idle / 4);
        CHECK(d.body == answer_size);
        CHECK(d.exact);
        CHECK(clock.now() - start >= 4 * idle);
    });
}

TEST_CASE("http connection send: a reader that stops reading is cut an idle timeout after the "
          "last bytes it took") {
    const char* const path = GENERATE("/big", "/file");
    CAPTURE(path);
    run_big_answer(path, [](corio::manual_clock& clock, fixture& f, tcp_stream&,
                            corio::event& asked) -> task<> {
        // The server fills the socket buffers and waits (its deadline set as the handler
        // returned); nothing is read for 2 idle timeouts.
        (void)co_await asked.wait();
        co_await advance_in_steps(clock, idle / 4, 8);
        const bool closed = co_await turns_until(
            [&f] { return f.srv->metrics().open_connections == 0; });
        CHECK(closed);
    });
}

}  // namespace
