// SPDX-License-Identifier: MIT
// Quirks of the select backend: the FD_SETSIZE limit, a descriptor closed while watched, and
// fairness when more descriptors are ready than one batch holds.
#include <corio/reactor.hpp>

#include <catch2/catch.hpp>

#include <corio/error.hpp>
#include <corio/io_handle.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/descriptor_limit.hpp"
#include "support/socket_pair.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/select.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;

struct calls {
    int count = 0;
    corio::readiness last;
};

void record(void* context, corio::readiness events) noexcept {
    auto* c = static_cast<calls*>(context);
    ++c->count;
    c->last = events;
}

std::unique_ptr<corio::reactor> open_select() {
    auto r = corio::reactor::open("select");
    REQUIRE(r);
    CHECK((*r)->backend_name() == "select");
    CHECK_FALSE((*r)->edge_triggered());
    return std::move(*r);
}

// A duplicate of `fd` numbered `at` or the lowest free number above it; closed on scope exit.
class dup_fd {
public:
    dup_fd(int fd, int at) : fd_(::fcntl(fd, F_DUPFD_CLOEXEC, at)) {}
    ~dup_fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    dup_fd(const dup_fd&) = delete;
    dup_fd& operator=(const dup_fd&) = delete;
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

TEST_CASE("select refuses a descriptor >= FD_SETSIZE with errc::fd_set_overflow") {
    // First, so that it is restored last.
    const corio_test::descriptor_limit limit(FD_SETSIZE + 64);
    if (!limit.ok()) {
        WARN("RLIMIT_NOFILE cannot be raised above FD_SETSIZE here; nothing to check");
        return;
    }
    auto r = open_select();
    corio_test::socket_pair pair;
    dup_fd high(pair.fd(0), FD_SETSIZE);
    dup_fd higher(pair.fd(0), FD_SETSIZE + 40);
    REQUIRE(high.get() >= FD_SETSIZE);
    REQUIRE(higher.get() >= FD_SETSIZE + 40);
    calls c;
    for (int fd : {high.get(), higher.get()}) {
        CAPTURE(fd);
        for (auto want : {corio::interest::read, corio::interest::write,
                          corio::interest::read_write, corio::interest::none}) {
            auto t = r->add(fd, want, record, &c);
            REQUIRE_FALSE(t);
            CHECK(t.error() == corio::errc::fd_set_overflow);
            CHECK(t.error().category() == corio::error_category());
            CHECK_THAT(t.error().message(), Catch::Contains("FD_SETSIZE"));
        }
    }
    CHECK(r->size() == 0);

    // The descriptor just below the limit is fine, and the failed adds left nothing behind.
    dup_fd top(pair.fd(0), FD_SETSIZE - 1);
    if (top.get() != FD_SETSIZE - 1) {
        WARN("descriptor FD_SETSIZE - 1 is in use; the boundary is not checked");
        return;
    }
    auto t = r->add(top.get(), corio::interest::read, record, &c);
    REQUIRE(t);
    auto idle = r->poll(0ns);
    REQUIRE(idle);
    CHECK(*idle == 0);
    REQUIRE(corio_test::send_text(pair.fd(1), "x") == 1);
    auto n = r->poll(std::nullopt);
    REQUIRE(n);
    CHECK(*n == 1);
    CHECK(c.count == 1);
    CHECK(c.last.is_readable());
    CHECK_FALSE(c.last.is_writable());
    CHECK(r->remove(*t));
}

corio::task<std::error_code> recv_error(corio::io_handle& h) {
    std::array<std::byte, 16> buf;
    auto r = co_await h.recv(buf);
    co_return r ? std::error_code{} : r.error();
}

// A select runtime and a socket pair whose end 0 is also reachable as a handle on a descriptor
// >= FD_SETSIZE. ok() is false when RLIMIT_NOFILE cannot be raised that far.
struct high_descriptor {
    corio_test::descriptor_limit limit{FD_SETSIZE + 64};  // first, so that it is restored last
    corio::runtime rt{[] {
        corio::runtime_options options;
        options.backend = "select";
        return options;
    }()};
    corio_test::socket_pair pair;
    corio::io_handle h{limit.ok() ? ::fcntl(pair.fd(0), F_DUPFD_CLOEXEC, FD_SETSIZE) : -1};

    bool ok() const {
        if (!limit.ok()) {
            WARN("RLIMIT_NOFILE cannot be raised above FD_SETSIZE here; nothing to check");
        }
        return limit.ok() && h.fd() >= FD_SETSIZE;
    }
};

TEST_CASE("on select, waiting on a descriptor >= FD_SETSIZE fails the operation, not the loop") {
    high_descriptor d;
    if (!d.ok()) {
        return;
    }
    REQUIRE(d.rt.backend_name() == "select");
    // Nothing to read, so recv parks: registering with the reactor is what fails.
    CHECK(d.rt.block_on(recv_error(d.h)) == corio::errc::fd_set_overflow);
}

corio::task<corio::result<std::string>> recv_text(corio::io_handle& h) {
    std::array<std::byte, 64> buf{};
    auto r = co_await h.recv(buf);
    if (!r) {
        co_return r.error();
    }
    co_return corio_test::as_string(std::span(buf).first(*r));
}

TEST_CASE("on select, a descriptor >= FD_SETSIZE whose wait failed still completes what needs no "
          "wait") {
    high_descriptor d;
    if (!d.ok()) {
        return;
    }
    CHECK(d.rt.block_on(recv_error(d.h)) == corio::errc::fd_set_overflow);  // had to wait
    for (const char* text : {"first", "second"}) {
        REQUIRE(corio_test::send_text(d.pair.fd(1), text) > 0);
        auto got = d.rt.block_on(recv_text(d.h));
        REQUIRE(got);
        CHECK(*got == text);
    }
    CHECK(d.rt.block_on(recv_error(d.h)) == corio::errc::fd_set_overflow);  // nothing there again
}

TEST_CASE("select reports a descriptor closed without remove() as an error and serves the rest") {
    auto r = open_select();
    corio_test::socket_pair live;
    auto doomed = std::make_unique<corio_test::socket_pair>();
    calls on_live;
    calls on_doomed;
    auto tl = r->add(live.fd(0), corio::interest::read, record, &on_live);
    auto td = r->add(doomed->fd(0), corio::interest::read, record, &on_doomed);
    REQUIRE(tl);
    REQUIRE(td);
    doomed.reset();  // the contract is broken: closed while still watched
    REQUIRE(corio_test::send_text(live.fd(1), "x") == 1);

    auto n = r->poll(std::nullopt);
    REQUIRE(n);
    CHECK(*n == 2);
    CHECK(on_doomed.count == 1);
    CHECK(on_doomed.last.is_error());
    CHECK(on_doomed.last.is_readable());
    CHECK(on_doomed.last.is_writable());
    CHECK(on_live.count == 1);
    CHECK(on_live.last.is_readable());
    CHECK_FALSE(on_live.last.is_error());

    // Level-triggered: reported until removed. After remove() the loop is back to normal.
    CHECK(r->remove(*td));
    on_live = {};
    auto again = r->poll(0ns);
    REQUIRE(again);
    CHECK(*again == 1);
    CHECK(on_live.count == 1);
    CHECK(on_doomed.count == 1);
    CHECK(r->remove(*tl));
}

TEST_CASE("select serves every ready descriptor even when more are ready than one batch holds") {
    auto r = open_select();
    constexpr int count = 300;  // more than the reactor's batch of 256, below FD_SETSIZE
    std::vector<std::unique_ptr<corio_test::socket_pair>> pairs;
    std::vector<calls> seen(count);
    std::vector<corio::token> tokens;
    for (int i = 0; i < count; ++i) {
        pairs.push_back(std::make_unique<corio_test::socket_pair>());
        if (pairs.back()->fd(1) >= FD_SETSIZE) {
            WARN("too many descriptors already open; fairness not checked");
            for (auto t : tokens) {
                CHECK(r->remove(t));
            }
            return;
        }
        auto t = r->add(pairs.back()->fd(0), corio::interest::read, record, &seen[i]);
        REQUIRE(t);
        tokens.push_back(*t);
        REQUIRE(corio_test::send_text(pairs.back()->fd(1), "x") == 1);
    }
    std::size_t dispatched = 0;
    for (int round = 0; round < 2; ++round) {
        auto n = r->poll(0ns);
        REQUIRE(n);
        dispatched += *n;
    }
    CHECK(dispatched >= static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        CAPTURE(i);
        CHECK(seen[i].count >= 1);
    }
    for (auto t : tokens) {
        CHECK(r->remove(t));
    }
}

}  // namespace
