// SPDX-License-Identifier: MIT
// Tests for corio/file_watcher.hpp: entry and watched-path events with their names, rename
// pairs, the overflow event, errors, cancellation without loss, and a socket in the same loop.
#include <corio/file_watcher.hpp>

#include <catch2/catch.hpp>

#include "support/temp_dir.hpp"

#include "support/file_event_text.hpp"
#include "support/socket_pair.hpp"

#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/io_handle.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/when_all.hpp>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using corio::file_event;
using corio::file_event_kind;
using corio::file_watcher;
namespace fs = std::filesystem;
using corio_test::append_text;
using corio_test::temp_dir;

// The longest any single wait may take before the test calls it lost (sanitizers included).
constexpr auto deadline = 10s;

corio::runtime make_runtime() {
    return corio::runtime(corio::runtime_options{});
}

file_watcher open_watcher() {
    auto w = file_watcher::open();
    REQUIRE(w);
    return std::move(*w);
}

// The next `n` events, each within the deadline; stops early on an error (left in `error`).
struct collected {
    std::vector<file_event> events;
    std::error_code error;
};
// Fills `c` rather than returning a coroutine-local aggregate: g++ 12 at -O3 returned a
// corrupted vector from `co_return c;` here (a test compiled at -O1 passed).
corio::task<void> collect_into(file_watcher& w, std::size_t n, collected& c) {
    while (c.events.size() < n) {
        auto e = co_await corio::with_timeout(deadline, w.next());
        if (!e) {
            c.error = e.error();
            co_return;
        }
        c.events.push_back(std::move(*e));
    }
}
collected collect(corio::runtime& rt, file_watcher& w, std::size_t n) {
    collected c;
    rt.block_on(collect_into(w, n, c));
    return c;
}

std::vector<std::string> describe(const std::vector<file_event>& events) {
    std::vector<std::string> out;
    for (const file_event& e : events) {
        out.push_back(corio_test::event_text(e));
    }
    return out;
}

TEST_CASE("a watched directory reports its entries' changes in order, with their names") {
    temp_dir dir;
    auto rt = make_runtime();
    file_watcher w = open_watcher();
    auto id = w.add(dir.path());
    REQUIRE(id);

    append_text(dir / "a", "");                    // created (the open that creates it)
    append_text(dir / "a", "hello");               // modified
    fs::permissions(dir / "a", fs::perms::owner_read | fs::perms::owner_write);  // attributes
    fs::rename(dir / "a", dir / "b");            // renamed a -> b
    fs::create_directory(dir / "sub");            // created, a directory
    fs::remove(dir / "b");                        // deleted
    auto c = collect(rt, w, 6);
    REQUIRE_FALSE(c.error);
    CHECK(describe(c.events) == std::vector<std::string>{"created a", "modified a", "attributes a",
                                                         "renamed a -> b", "created sub/",
                                                         "deleted b"});
    for (const file_event& e : c.events) {
        CHECK(e.watch == *id);
        CHECK(e.path.parent_path() == dir.path());
    }
    CHECK(c.events[3].from_watch == *id);
}

TEST_CASE("a watched file reports writes, attributes, its own rename and its deletion") {
    temp_dir dir;
    append_text(dir / "log", "");
    auto rt = make_runtime();
    file_watcher w = open_watcher();
    auto id = w.add(dir / "log");
    REQUIRE(id);

    append_text(dir / "log", "line\n");
    fs::permissions(dir / "log", fs::perms::owner_read | fs::perms::owner_write);
    fs::rename(dir / "log", dir / "log.1");
    fs::remove(dir / "log.1");  // link count drops (attributes), then the inode goes
    auto c = collect(rt, w, 5);
    REQUIRE_FALSE(c.error);
    CHECK(describe(c.events) == std::vector<std::string>{"modified log", "attributes log",
                                                         "watched_moved log", "attributes log",
                                                         "watched_deleted log"});
    // The watch ended with the file: removing it now is an error, not a crash.
    CHECK(w.remove(*id).error() == std::errc::invalid_argument);
}

TEST_CASE("renames pair across watched directories and report moves in and out of them") {
    temp_dir dir;
    fs::create_directory(dir / "x");
    fs::create_directory(dir / "y");
    fs::create_directory(dir / "away");  // not watched
    auto rt = make_runtime();
    file_watcher w = open_watcher();
    auto x = w.add(dir / "x");
    auto y = w.add(dir / "y");
    REQUIRE(x);
    REQUIRE(y);
    CHECK_FALSE(*x == *y);

    append_text(dir / "away" / "f", "");
    fs::rename(dir / "away" / "f", dir / "x" / "f");  // moved_in
    fs::rename(dir / "x" / "f", dir / "y" / "g");      // renamed, between two watches
    fs::rename(dir / "y" / "g", dir / "away" / "h");   // moved_out
    auto c = collect(rt, w, 3);
    REQUIRE_FALSE(c.error);
    CHECK(describe(c.events) ==
          std::vector<std::string>{"moved_in f", "renamed f -> g", "moved_out g"});
    CHECK(c.events[0].watch == *x);
    CHECK(c.events[1].from_watch == *x);
    CHECK(c.events[1].watch == *y);
    CHECK(c.events[2].watch == *y);
}

TEST_CASE("add and remove report bad paths and unknown watches as error values") {
    temp_dir dir;
    append_text(dir / "file", "");
    auto rt = make_runtime();
    file_watcher w = open_watcher();
    CHECK(w.add(dir / "missing").error() == std::errc::no_such_file_or_directory);
    CHECK(w.add(dir / "file" / "below").error() == std::errc::not_a_directory);
    CHECK(w.add(fs::path(std::string(5000, 'a'))).error() == std::errc::filename_too_long);
    CHECK(w.add(fs::path()).error() == std::errc::invalid_argument);
    CHECK(w.add(fs::path(std::string("a\0b", 3))).error() == std::errc::invalid_argument);
    CHECK(w.remove(corio::watch_id{12345}).error() == std::errc::invalid_argument);
    CHECK(std::error_code(corio::watch_errc::limit_reached).message().find("max_user_watches") !=
          std::string::npos);

    // Adding a watched path again gives the same watch.
    auto first = w.add(dir.path());
    auto again = w.add(dir.path());
    REQUIRE(first);
    REQUIRE(again);
    CHECK(*first == *again);
}

TEST_CASE("a removed watch reports nothing more; the others go on") {
    temp_dir dir;
    fs::create_directory(dir / "quiet");
    fs::create_directory(dir / "loud");
    auto rt = make_runtime();
    file_watcher w = open_watcher();
    auto quiet = w.add(dir / "quiet");
    auto loud = w.add(dir / "loud");
    REQUIRE(quiet);
    REQUIRE(loud);
    append_text(dir / "quiet" / "before", "");  // read from the kernel after remove: dropped
    REQUIRE(w.remove(*quiet));
    append_text(dir / "quiet" / "after", "");
    append_text(dir / "loud" / "f", "");
    auto c = collect(rt, w, 1);
    REQUIRE_FALSE(c.error);
    CHECK(describe(c.events) == std::vector<std::string>{"created f"});
    CHECK(w.try_next().error() == std::errc::resource_unavailable_try_again);
    CHECK(w.remove(*quiet).error() == std::errc::invalid_argument);
}

TEST_CASE("a kernel queue overflow arrives as an overflow event after the events it kept") {
    long max_queued = 0;
    std::ifstream("/proc/sys/fs/inotify/max_queued_events") >> max_queued;
    if (max_queued <= 0 || max_queued > 100'000) {
        WARN("fs.inotify.max_queued_events is " << max_queued
                                                << ": too large to overflow quickly; skipped");
        return;
    }
    temp_dir dir;
    append_text(dir / "a", "");
    append_text(dir / "b", "");
    auto rt = make_runtime();
    file_watcher w = open_watcher();
    REQUIRE(w.add(dir.path()));
    const int fds[2] = {::open((dir / "a").c_str(), O_WRONLY | O_CLOEXEC),
                        ::open((dir / "b").c_str(), O_WRONLY | O_CLOEXEC)};
    REQUIRE(fds[0] >= 0);
    REQUIRE(fds[1] >= 0);
    // Alternating files: inotify merges an event only into an identical one just before it.
    for (long i = 0; i < max_queued + 64; ++i) {
        REQUIRE(::pwrite(fds[i % 2], "x", 1, 0) == 1);
    }
    ::close(fds[0]);
    ::close(fds[1]);
    auto result = rt.block_on([](file_watcher& w) -> corio::task<collected> {
        collected c;
        for (;;) {
            auto batch = co_await corio::with_timeout(deadline, w.next_batch());
            if (!batch) {
                c.error = batch.error();
                co_return c;
            }
            for (file_event& e : *batch) {
                c.events.push_back(std::move(e));
            }
            if (c.events.back().kind == file_event_kind::overflow) {
                co_return c;
            }
        }
    }(w));
    REQUIRE_FALSE(result.error);
    CAPTURE(max_queued, result.events.size());
    // The kernel keeps max_queued_events, then queues the overflow event as the last one.
    CHECK(result.events.size() == static_cast<std::size_t>(max_queued) + 1);
    CHECK(result.events.back().path.empty());
    CHECK(result.events[0].kind == file_event_kind::modified);
    CHECK(w.try_next().error() == std::errc::resource_unavailable_try_again);
}

TEST_CASE("a cancelled next consumes no event, and a queued event beats the stop") {
    temp_dir dir;
    auto rt = make_runtime();
    file_watcher w = open_watcher();
    REQUIRE(w.add(dir.path()));
    rt.block_on([](file_watcher& w, const temp_dir& dir) -> corio::task<void> {
        // Nothing to report: stopping the token ends the wait with operation_canceled.
        std::stop_source stop;
        corio::spawn([](std::stop_source& s) -> corio::task<void> {
            s.request_stop();  // runs once the wait below has parked
            co_return;
        }(stop));
        auto cancelled = co_await w.next(stop.get_token());
        CHECK(cancelled.error() == std::errc::operation_canceled);
        auto timed = co_await corio::with_timeout(1ms, w.next());
        CHECK(timed.error() == std::errc::timed_out);

        // Two events read together: the first call takes one, the second stays queued and is
        // returned even to a call whose token has already stopped.
        append_text(dir / "one", "");
        append_text(dir / "two", "");
        auto first = co_await corio::with_timeout(deadline, w.next());
        REQUIRE(first);
        CHECK(first->path.filename() == "one");
        auto second = co_await w.next(stop.get_token());
        REQUIRE(second);
        CHECK(second->path.filename() == "two");
    }(w, dir));
}

TEST_CASE("the watcher waits in the same loop as a socket round trip") {
    temp_dir dir;
    corio_test::socket_pair pair;
    auto rt = make_runtime();
    file_watcher w = open_watcher();
    REQUIRE(w.add(dir.path()));
    corio::io_handle a(pair.take(0));
    corio::io_handle b(pair.take(1));
    auto [event, echoed] = rt.block_on(corio::when_all(
        // Parks on the watcher first (when_all starts its children in order).
        [](file_watcher& w) -> corio::task<corio::result<file_event>> {
            co_return co_await corio::with_timeout(deadline, w.next());
        }(w),
        [](corio::io_handle& a, corio::io_handle& b,
           const temp_dir& dir) -> corio::task<std::string> {
            std::array<std::byte, 16> buf{};
            (void)co_await a.send(corio_test::as_bytes("ping"));
            auto n = co_await b.recv(buf);  // sent just above: no wait
            if (!n) {
                co_return std::string("recv failed: ").append(n.error().message());
            }
            append_text(dir / "after-ping", "");  // only now has the watcher anything to say
            co_return corio_test::as_string(std::span(buf).first(*n));
        }(a, b, dir)));
    CHECK(echoed == "ping");
    REQUIRE(event);
    CHECK(event->kind == file_event_kind::created);
    CHECK(event->path == dir / "after-ping");
}

TEST_CASE("an empty watcher and a second concurrent wait are usage errors") {
    auto rt = make_runtime();
    file_watcher empty;
    CHECK_FALSE(empty.is_open());
    CHECK_THROWS_AS(empty.add("/"), corio::usage_error);
    CHECK_THROWS_AS(empty.try_next(), corio::usage_error);
    file_watcher w = open_watcher();
    rt.block_on([](file_watcher& w) -> corio::task<void> {
        std::stop_source stop;
        corio::spawn([](file_watcher& w, std::stop_source& stop) -> corio::task<void> {
            bool threw = false;
            try {
                (void)co_await w.next();
            } catch (const corio::usage_error&) {
                threw = true;
            }
            CHECK(threw);
            stop.request_stop();
        }(w, stop));
        auto r = co_await w.next(stop.get_token());
        CHECK(r.error() == std::errc::operation_canceled);
    }(w));
}

TEST_CASE("destroying the watcher ends a pending wait with errc::closed") {
    auto rt = make_runtime();
    auto w = std::make_unique<file_watcher>(open_watcher());
    rt.block_on([](std::unique_ptr<file_watcher>& w) -> corio::task<void> {
        corio::spawn([](std::unique_ptr<file_watcher>& w) -> corio::task<void> {
            w.reset();  // runs once the wait below has parked
            co_return;
        }(w));
        auto r = co_await w->next();
        CHECK(r.error() == corio::errc::closed);
    }(w));
}

TEST_CASE("the kqueue method is reported unavailable where it is not built") {
    auto w = file_watcher::open({.method = corio::watch_method::kqueue});
    if (w) {
        return;  // built: covered by the kqueue tests
    }
    CHECK(w.error() == corio::errc::backend_unavailable);
}

}  // namespace
