// SPDX-License-Identifier: MIT
// server past FD_SETSIZE: on select, a client the loop cannot watch gets a 503, never a silent
// close; on every other backend the same clients are all served.
#include <corio/http/server.hpp>

#include <catch2/catch.hpp>

#include <corio/detail/scheduler.hpp>
#include <corio/io_handle.hpp>

#include "support/blocking_client.hpp"
#include "support/descriptor_limit.hpp"
#include "support/http_fixture.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace corio_test;

constexpr int clients = 16;
constexpr int free_below_fd_setsize = 20;  // fewer than a client and its server side each need

/// Holds every descriptor from the lowest free one up to `first_free`, so the next ones land
/// just below FD_SETSIZE; released on scope exit.
struct descriptor_filler {
    std::vector<int> held;
    explicit descriptor_filler(int first_free) {
        int fd;
        while ((fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && fd < first_free) {
            held.push_back(fd);
        }
        REQUIRE(fd >= 0);
        ::close(fd);
    }
    ~descriptor_filler() {
        for (int fd : held) {
            ::close(fd);
        }
    }
};

struct blocking_reply {
    int status = 0;
    std::string head;
    std::string body;
};

// One response off a blocking socket (Content-Length framed); nullopt if the connection ended
// (or 10 s passed) before it was complete: a silent close.
std::optional<blocking_reply> read_reply(int fd) {
    std::string in;
    char buf[1024];
    std::size_t head_end;
    std::size_t length = 0;
    for (;;) {
        head_end = in.find("\r\n\r\n");
        if (head_end != std::string::npos) {
            const std::size_t at = in.find("Content-Length: ");
            length = at < head_end ? std::stoul(in.substr(at + 16)) : 0;
            if (in.size() >= head_end + 4 + length) {
                break;
            }
        }
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            return std::nullopt;
        }
        in.append(buf, static_cast<std::size_t>(n));
    }
    return blocking_reply{std::stoi(in.substr(9, 3)), in.substr(0, head_end + 2),
                          in.substr(head_end + 4, length)};
}

bool send_request(int fd) { return send_text(fd, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"); }

/// What the client threads saw: every reply in order, and whether any request went unanswered.
struct client_log {
    std::vector<blocking_reply> replies;
    int silent_closes = 0;
    int connect_failures = 0;
};

// Blocking keep-alive clients, off the loop's thread (their own descriptors may pass FD_SETSIZE):
// all connect and send a request; each served one asks again on the same connection. None
// closes before every connection has had its answers, so no descriptor below FD_SETSIZE is
// freed meanwhile: the first 10 clients take such descriptors (the lowest free), leaving the
// server fewer than its 16 connections need. Writes one byte to `done_fd` at the end.
void run_clients(std::uint16_t port, client_log& log, int done_fd) {
    std::vector<int> fds;
    for (int i = 0; i < clients; ++i) {
        const int fd = connect_blocking(port);
        if (fd < 0 || !send_request(fd)) {
            ++log.connect_failures;
        }
        fds.push_back(fd);
    }
    std::vector<int> again;  // served, and asked a second time
    const auto read_one = [&](int fd) {
        auto r = read_reply(fd);
        if (!r) {
            ++log.silent_closes;
            return false;
        }
        log.replies.push_back(std::move(*r));
        return log.replies.back().status == 200;
    };
    for (int fd : fds) {
        if (read_one(fd) && send_request(fd)) {
            again.push_back(fd);
        }
    }
    for (int fd : again) {
        (void)read_one(fd);
    }
    for (int fd : fds) {
        ::close(fd);
    }
    (void)!::write(done_fd, "x", 1);
}

TEST_CASE("server: a client past FD_SETSIZE gets 503 on select, never a silent close") {
    descriptor_limit limit(FD_SETSIZE + 256);
    REQUIRE(limit.ok());
    client_log log;
    std::thread client_thread;
    run_test([](client_log& log, std::thread& client_thread) -> task<> {
        const bool on_select = corio::detail::scheduler::current()->io().backend_name() == "select";
        fixture f;  // listener, pipe and runtime get low descriptors: the loop watches them
        int done[2];
        REQUIRE(::pipe2(done, O_NONBLOCK | O_CLOEXEC) == 0);
        corio::io_handle done_reader(done[0]);
        {
            descriptor_filler filler(FD_SETSIZE - free_below_fd_setsize);
            client_thread = std::thread(run_clients, endpoint_of(f.listener).port(), std::ref(log), done[1]);
            std::byte b[1];
            require_ok(co_await done_reader.read(b), "read");
            client_thread.join();
        }
        ::close(done[1]);

        CHECK(log.connect_failures == 0);
        CHECK(log.silent_closes == 0);
        int served = 0, refused = 0;
        for (const blocking_reply& r : log.replies) {
            CAPTURE(r.head, r.body);
            if (r.status == 200) {
                ++served;
                CHECK(r.body == "Hello, World!");
            } else {
                ++refused;
                CHECK(r.status == 503);
                CHECK(r.head.find("\r\nRetry-After: 1\r\n") != std::string::npos);
                CHECK(r.head.find("\r\nConnection: close\r\n") != std::string::npos);
            }
        }
        if (on_select) {
            CHECK(refused > 0);  // the test did reach past FD_SETSIZE
        } else {
            CHECK(served == 2 * clients);
        }
        // Descriptors back (clients and filler closed): accepting resumed, and serves.
        tcp_stream s = co_await f.connect();
        co_await send(s, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
        response_reader in(s);
        const reply again = co_await in.next();
        CHECK(again.status_line == "HTTP/1.1 200 OK");
        co_await f.stop();
    }(log, client_thread));
    if (client_thread.joinable()) {
        client_thread.join();  // the test failed early; the clients end within their 10 s limit
    }
}

}  // namespace
