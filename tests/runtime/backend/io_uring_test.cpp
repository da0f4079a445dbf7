// SPDX-License-Identifier: MIT
// What only the io_uring completion backend has: the epoll fallback, cancelled and destroyed
// operations whose buffers the kernel must let go of first, the provided-buffer ring running
// dry, and accepts and receives that take no more than asked for. Each test opens io_uring itself, whatever CORIO_BACKEND says.
#include <corio/backend.hpp>
#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/event.hpp>
#include <corio/io_handle.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include "support/io_uring_runtime.hpp"
#include "support/socket_pair.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <optional>
#include <span>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using corio::task;

corio::runtime_options on_io_uring() {
    corio::runtime_options o;
    o.backend = "io_uring";
    return o;
}

using corio_test::io_uring_built;
using corio_test::io_uring_runtime_or_skip;

/// Sets an environment variable for one scope (tests run one at a time in a process).
class scoped_env {
public:
    scoped_env(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) {
            old_ = old;
        }
        ::setenv(name, value, 1);
    }
    ~scoped_env() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

/// Captures what is written to stderr (fd 2) during its lifetime.
class stderr_capture {
public:
    stderr_capture() : saved_(::dup(2)) {
        std::fflush(stderr);
        std::FILE* f = std::tmpfile();
        REQUIRE(f);
        file_ = f;
        ::dup2(::fileno(file_), 2);
    }
    ~stderr_capture() { restore(); }
    std::string text() {
        restore();
        std::string out;
        std::rewind(file_);
        for (int c; (c = std::fgetc(file_)) != EOF;) {
            out += static_cast<char>(c);
        }
        return out;
    }

private:
    void restore() {
        if (saved_ >= 0) {
            std::fflush(stderr);
            ::dup2(saved_, 2);
            ::close(saved_);
            saved_ = -1;
        }
    }
    int saved_;
    std::FILE* file_ = nullptr;
};

TEST_CASE("io_uring disabled: the runtime falls back to epoll and says so once on stderr") {
    if (!io_uring_built()) {
        CHECK_FALSE(corio::reactor::open("io_uring"));
        WARN("the io_uring backend is not built (liburing missing): skipped");
        return;
    }
    scoped_env off("CORIO_IO_URING_DISABLE", "1");
    stderr_capture err;
    corio::runtime first(on_io_uring());
    corio::runtime second(on_io_uring());
    CHECK(first.backend_name() == "epoll");
    CHECK(second.backend_name() == "epoll");
    const std::string said = err.text();
    CAPTURE(said);
    // Once per process: an earlier test in this process may have said it already.
    const auto count = [&](std::string_view needle) {
        std::size_t n = 0;
        for (auto at = said.find(needle); at != std::string::npos; at = said.find(needle, at + 1)) {
            ++n;
        }
        return n;
    };
    CHECK(count("io_uring unavailable") <= 1);
    // The fallback still works: a round trip over it.
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    REQUIRE(corio_test::send_text(pair.fd(1), "over epoll") == 10);
    std::byte buf[16];
    auto n = first.block_on([](corio::io_handle& h, std::span<std::byte> b) -> task<corio::result<std::size_t>> {
        co_return co_await h.recv(b);
    }(h, buf));
    REQUIRE(n);
    CHECK(corio_test::as_string({buf, *n}) == "over epoll");
}

task<corio::result<std::size_t>> recv_into(corio::io_handle& h, std::span<std::byte> buf,
                                           std::stop_token token) {
    co_return co_await h.recv(buf, token);
}

TEST_CASE("io_uring: a cancelled recv resumes with operation_canceled and its buffer is never "
          "written afterwards") {
    auto rt = io_uring_runtime_or_skip();
    if (!rt) {
        return;
    }
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    std::vector<std::byte> buf(64, std::byte{'A'});
    rt->block_on([](corio::io_handle& h, std::vector<std::byte>& buf, int peer) -> task<> {
        std::stop_source stop;
        corio::event done;
        corio::result<std::size_t> got = std::errc::io_error;
        corio::spawn([](corio::io_handle& h, std::span<std::byte> b, std::stop_token t,
                        corio::result<std::size_t>& out, corio::event& done) -> task<> {
            out = co_await recv_into(h, b, t);
            done.set();
        }(h, buf, stop.get_token(), got, done));
        co_await corio::yield();  // the recv is in the kernel now
        stop.request_stop();
        (void)co_await done.wait();
        CHECK(got.error() == std::errc::operation_canceled);
        // Data sent after the cancellation must reach the next recv, not the cancelled buffer.
        REQUIRE(corio_test::send_text(peer, "after") == 5);
        std::byte next[16];
        auto n = co_await recv_into(h, next, {});
        REQUIRE(n);
        CHECK(corio_test::as_string({next, *n}) == "after");
    }(h, buf, pair.fd(1)));
    CHECK(std::all_of(buf.begin(), buf.end(), [](std::byte b) { return b == std::byte{'A'}; }));
}

TEST_CASE("io_uring: a task destroyed mid-recv leaves the data for the next reader") {
    auto rt = io_uring_runtime_or_skip();
    if (!rt) {
        return;
    }
    corio_test::socket_pair pair;
    corio::io_handle h(pair.take(0));
    rt->block_on([](corio::io_handle& h, int peer) -> task<> {
        {
            // The frame (and the buffer in it) dies while its recv is submitted: under ASan a
            // completion that still pointed at it would be a use after free.
            std::vector<std::byte> heap_buf(64);
            auto orphan = recv_into(h, heap_buf, {});
            orphan.handle().resume();  // runs to the recv and suspends there
            co_await corio::yield();   // submitted to the kernel
        }
        REQUIRE(corio_test::send_text(peer, "kept") == 4);
        std::byte next[16];
        auto n = co_await recv_into(h, next, {});
        REQUIRE(n);
        CHECK(corio_test::as_string({next, *n}) == "kept");
    }(h, pair.fd(1)));
}

TEST_CASE("io_uring: the provided-buffer ring running dry (ENOBUFS) loses no bytes") {
    // One ring buffer for four connections whose data arrives in the same batch: all but one
    // receive get ENOBUFS from the kernel and must be retried without losing anything.
    scoped_env one_buffer("CORIO_IO_URING_BUFFERS", "1");
    auto rt = io_uring_runtime_or_skip();
    if (!rt) {
        return;
    }
    constexpr int conns = 4;
    constexpr std::size_t total = 256 * 1024;
    std::vector<std::unique_ptr<corio_test::socket_pair>> pairs;
    std::vector<corio::net::tcp_stream> streams;
    for (int i = 0; i < conns; ++i) {
        pairs.push_back(std::make_unique<corio_test::socket_pair>());
        streams.emplace_back(corio::io_handle(pairs.back()->take(0)));
    }
    std::vector<std::string> got(conns);
    const auto retries = rt->block_on([](auto& streams, auto& pairs, auto& got) -> task<std::uint64_t> {
        int finished = 0;
        corio::event all_done;
        for (int i = 0; i < conns; ++i) {
            corio::spawn([](corio::net::tcp_stream& s, std::string& out, int& finished,
                            corio::event& all_done) -> task<> {
                while (out.size() < total) {
                    auto b = co_await s.recv();
                    REQUIRE(b);
                    REQUIRE_FALSE(b->empty());
                    out += corio_test::as_string(b->bytes());
                }
                if (++finished == conns) {
                    all_done.set();
                }
            }(streams[i], got[i], finished, all_done));
        }
        co_await corio::yield();  // every recv is parked in the kernel
        // Each connection's bytes are its own pattern, so a byte delivered to the wrong reader
        // or twice shows up too.
        std::vector<std::size_t> sent(conns, 0);
        while (std::any_of(sent.begin(), sent.end(), [](std::size_t n) { return n < total; })) {
            for (int i = 0; i < conns; ++i) {
                char chunk[4096];
                for (std::size_t k = 0; k < sizeof chunk; ++k) {
                    chunk[k] = static_cast<char>('a' + (sent[i] + k + static_cast<std::size_t>(i)) % 26);
                }
                const auto want = std::min(sizeof chunk, total - sent[i]);
                const ssize_t n = want ? ::send(pairs[i]->fd(1), chunk, want, MSG_NOSIGNAL) : 0;
                if (n > 0) {
                    sent[i] += static_cast<std::size_t>(n);
                }
            }
            co_await corio::yield();
        }
        (void)co_await all_done.wait();
        co_return corio::detail::scheduler::current()->io().stats().buffer_retries;
    }(streams, pairs, got));
    for (int i = 0; i < conns; ++i) {
        REQUIRE(got[i].size() == total);
        std::size_t bad = 0;
        for (std::size_t k = 0; k < total; ++k) {
            bad += got[i][k] != static_cast<char>('a' + (k + static_cast<std::size_t>(i)) % 26);
        }
        CHECK(bad == 0);
    }
    CHECK(retries > 0);  // the ring did run dry: the path under test was taken
}

TEST_CASE("io_uring: connections that arrive before accept is called are all accepted in order, "
          "and closing the listener refuses new ones at once") {
    auto rt = io_uring_runtime_or_skip();
    if (!rt) {
        return;
    }
    rt->block_on([]() -> task<> {
        auto listener = corio::net::tcp_listener::bind(*corio::net::endpoint::parse("127.0.0.1:0"));
        REQUIRE(listener);
        const auto at = *listener->local_endpoint();
        // Connections that wait in the backlog while nobody accepts come out in order.
        std::vector<corio::net::tcp_stream> clients;
        auto first_client = co_await corio::net::tcp_stream::connect(at);
        REQUIRE(first_client);
        auto first = co_await listener->accept();
        REQUIRE(first);
        for (int i = 0; i < 5; ++i) {
            auto c = co_await corio::net::tcp_stream::connect(at);
            REQUIRE(c);
            clients.push_back(std::move(*c));
        }
        co_await corio::yield();
        for (auto& c : clients) {
            auto s = co_await listener->accept();
            REQUIRE(s);
            CHECK(*s->remote_endpoint() == *c.local_endpoint());
        }
        REQUIRE(listener->close());
        auto refused = co_await corio::net::tcp_stream::connect(at);
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == std::errc::connection_refused);
    }());
}

TEST_CASE("io_uring: bytes that arrive between receives reach a later recv(span) in order, split "
          "across calls when the span is short") {
    auto rt = io_uring_runtime_or_skip();
    if (!rt) {
        return;
    }
    corio_test::socket_pair pair;
    corio::net::tcp_stream s{corio::io_handle(pair.take(0))};
    rt->block_on([](corio::net::tcp_stream& s, int peer) -> task<> {
        REQUIRE(corio_test::send_text(peer, "first") == 5);
        auto first = co_await s.recv();  // pooled: the kernel picks a provided buffer
        REQUIRE(first);
        CHECK(corio_test::as_string(first->bytes()) == "first");
        REQUIRE(corio_test::send_text(peer, "abcdefgh") == 8);
        co_await corio::yield();  // nobody is receiving: the bytes wait in the socket
        co_await corio::yield();
        std::byte small[3];
        auto a = co_await s.handle().recv(small);
        REQUIRE(a);
        CHECK(corio_test::as_string({small, *a}) == "abc");
        std::byte rest[16];
        auto b = co_await s.handle().recv(rest);
        REQUIRE(b);
        CHECK(corio_test::as_string({rest, *b}) == "defgh");
        REQUIRE(corio_test::send_text(peer, "last") == 4);
        auto last = co_await s.recv();
        REQUIRE(last);
        CHECK(corio_test::as_string(last->bytes()) == "last");
        ::shutdown(peer, SHUT_WR);
        auto end = co_await s.recv();
        REQUIRE(end);
        CHECK(end->empty());
    }(s, pair.fd(1)));
}

}  // namespace
