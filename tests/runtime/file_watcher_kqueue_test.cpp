// SPDX-License-Identifier: MIT
// Tests for file_watcher's kqueue method (runtime/src/file_watcher_kqueue.cpp): EVFILT_VNODE
// events of a file and of a directory (entry events from comparing listings), on every loop
// backend. On Linux it runs through libkqueue, whose EVFILT_VNODE is built on inotify.
#include <corio/file_watcher.hpp>

#include <catch2/catch.hpp>

#include "support/file_event_text.hpp"
#include "support/temp_dir.hpp"

#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

#include <stdlib.h>

namespace {

using namespace std::chrono_literals;
using corio::file_event;
using corio::file_event_kind;
using corio::file_watcher;
namespace fs = std::filesystem;
using corio_test::append_text;
using corio_test::temp_dir;

constexpr auto deadline = 10s;

// The kqueue watcher, or nullopt (with the reason) where corio is built without kqueue.
std::optional<file_watcher> open_kqueue_watcher() {
    auto w = file_watcher::open({.method = corio::watch_method::kqueue});
    if (!w) {
        REQUIRE(w.error() == corio::errc::backend_unavailable);
        WARN("the kqueue method is not built in (CORIO_WITH_KQUEUE=OFF): kqueue tests skipped");
        return std::nullopt;
    }
    return std::move(*w);
}

using texts = std::vector<std::string>;

// "kind name" of the next event (its entry's file name; "renamed a -> b" for a rename).
corio::task<std::string> next_text(file_watcher& w) {
    auto e = co_await corio::with_timeout(deadline, w.next());
    if (!e) {
        co_return std::string("error: ").append(e.error().message());
    }
    co_return corio_test::event_text(*e);
}

TEST_CASE("kqueue: a watched directory reports created, renamed and deleted entries") {
    auto w = open_kqueue_watcher();
    if (!w) {
        return;
    }
    temp_dir dir;
    corio::runtime rt;
    REQUIRE(w->add(dir.path()));
    // kqueue coalesces what happens between two reads into one NOTE_WRITE on the directory,
    // so each step is awaited before the next.
    auto seen = rt.block_on([](file_watcher& w, const temp_dir& dir) -> corio::task<texts> {
        texts got;
        append_text(dir / "a", "");
        got.push_back(co_await next_text(w));
        fs::rename(dir / "a", dir / "b");
        got.push_back(co_await next_text(w));
        fs::create_directory(dir / "sub");
        got.push_back(co_await next_text(w));
        got.push_back(co_await next_text(w));
        fs::remove(dir / "b");
        got.push_back(co_await next_text(w));
        co_return got;
    }(*w, dir));
    // A subdirectory's ".." raises the directory's link count: NOTE_LINK, as attributes.
    CHECK(seen == texts{"created a", "renamed a -> b", "created sub/",
                        std::string("attributes ").append(dir.path().filename()).append("/"),
                        "deleted b"});
}

TEST_CASE("kqueue: a watched file reports writes, attributes, its rename and its deletion") {
    auto w = open_kqueue_watcher();
    if (!w) {
        return;
    }
    temp_dir dir;
    append_text(dir / "log", "");
    corio::runtime rt;
    auto id = w->add(dir / "log");
    REQUIRE(id);
    auto seen = rt.block_on([](file_watcher& w, const temp_dir& dir) -> corio::task<texts> {
        texts got;
        append_text(dir / "log", "line\n");
        got.push_back(co_await next_text(w));
        fs::permissions(dir / "log", fs::perms::owner_read | fs::perms::owner_write);
        got.push_back(co_await next_text(w));
        fs::rename(dir / "log", dir / "log.1");
        got.push_back(co_await next_text(w));
        fs::remove(dir / "log.1");
        got.push_back(co_await next_text(w));
        co_return got;
    }(*w, dir));
    // The removal drops the link count to 0 (NOTE_LINK, NOTE_DELETE in one event).
    CHECK(seen == texts{"modified log", "attributes log", "watched_moved log", "attributes log"});
    auto last = rt.block_on(next_text(*w));
    CHECK(last == "watched_deleted log");
    CHECK(w->remove(*id).error() == std::errc::invalid_argument);  // ended with the file
}

TEST_CASE("kqueue: errors, repeated adds and cancellation without loss") {
    auto w = open_kqueue_watcher();
    if (!w) {
        return;
    }
    temp_dir dir;
    corio::runtime rt;
    CHECK(w->add(dir / "missing").error() == std::errc::no_such_file_or_directory);
    auto first = w->add(dir.path());
    auto again = w->add(dir.path());
    REQUIRE(first);
    REQUIRE(again);
    CHECK(*first == *again);
    CHECK(w->remove(corio::watch_id{999}).error() == std::errc::invalid_argument);
    rt.block_on([](file_watcher& w) -> corio::task<void> {
        auto timed = co_await corio::with_timeout(1ms, w.next());
        CHECK(timed.error() == std::errc::timed_out);
    }(*w));
    append_text(dir / "after", "");
    auto after = rt.block_on(next_text(*w));
    CHECK(after == "created after");
}

}  // namespace
