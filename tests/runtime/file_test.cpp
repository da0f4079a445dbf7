// SPDX-License-Identifier: MIT
// Tests for corio/file.hpp: exact bytes at offsets, short reads at the end, whole-file reads and
// writes, syncs and the documented errors (file_cancel_test.cpp: cancellation, many reads at
// once, teardown). Run on every backend: io_uring takes the native operations, the others the
// page cache and the blocking pool.
#include <corio/file.hpp>

#include <catch2/catch.hpp>

#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/temp_files.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace corio_test;
using corio::file;
using corio::open_flags;
using corio::result;
using corio::task;

TEST_CASE("file: write_at and read_at move exact bytes at offsets, holes read as zeros") {
    temp_dir dir;
    corio::runtime rt;
    rt.block_on([&]() -> task<> {
        file f = co_await open_or_fail(dir / "a", open_flags::read_write | open_flags::create);
        const auto first = pattern(5000, 1);
        const auto second = pattern(70000, 2);
        auto w1 = co_await f.write_all_at(0, first);
        auto w2 = co_await f.write_all_at(1 << 20, second);  // past the end: a hole before it
        REQUIRE(w1);
        REQUIRE(w2);
        CHECK(f.size().value_or(0) == (1u << 20) + second.size());

        std::vector<std::byte> back(second.size());
        auto r2 = co_await f.read_exact_at(1 << 20, back);
        REQUIRE(r2);
        CHECK(back == second);
        std::vector<std::byte> mid(300);
        auto r1 = co_await f.read_exact_at(4900, mid);  // 100 written bytes, then the hole
        REQUIRE(r1);
        CHECK(std::equal(mid.begin(), mid.begin() + 100, first.begin() + 4900));
        CHECK(std::all_of(mid.begin() + 100, mid.end(), [](std::byte b) { return b == std::byte{0}; }));

        auto over = co_await f.write_at(10, bytes_of("XYZ"));  // overwrites in place
        REQUIRE(over.value_or(0) == 3);
        std::vector<std::byte> three(5);
        auto r3 = co_await f.read_exact_at(9, three);
        REQUIRE(r3);
        CHECK(three[0] == first[9]);
        CHECK(three[1] == std::byte{'X'});
        CHECK(three[3] == std::byte{'Z'});
        CHECK(three[4] == first[13]);
        CHECK(f.close());
    }());
}

TEST_CASE("file: reads at the end are short, then 0; read_exact_at past it is unexpected_eof") {
    temp_dir dir;
    write_plain(dir / "ten", bytes_of("0123456789"));
    corio::runtime rt;
    rt.block_on([&]() -> task<> {
        file f = co_await open_or_fail(dir / "ten", open_flags::read);
        std::vector<std::byte> buf(100, std::byte{'#'});
        auto tail = co_await f.read_at(6, buf);
        REQUIRE(tail.value_or(0) == 4);
        CHECK(std::string(reinterpret_cast<const char*>(buf.data()), 4) == "6789");
        CHECK(buf[4] == std::byte{'#'});  // nothing written past the count
        auto at_end = co_await f.read_at(10, buf);
        auto past = co_await f.read_at(1000, buf);
        CHECK(at_end.value_or(99) == 0);
        CHECK(past.value_or(99) == 0);
        auto exact = co_await f.read_exact_at(8, std::span(buf).first(3));
        CHECK(exact.error() == corio::errc::unexpected_eof);
        auto none = co_await f.read_at(0, {});
        CHECK(none.value_or(99) == 0);
    }());
}

TEST_CASE("file: read_file and write_file round trip, in place and atomic") {
    temp_dir dir;
    corio::runtime rt;
    const auto data = pattern(300000, 3);
    const std::string text("with\0NUL and text\n", 18);
    rt.block_on([&]() -> task<> {
        auto w = co_await corio::write_file(dir / "bin", data);
        REQUIRE(w);
        auto back = co_await corio::read_file(dir / "bin");
        REQUIRE(back);
        REQUIRE(back->size() == data.size());
        CHECK(std::equal(data.begin(), data.end(), bytes_of(*back).begin()));

        // In place over a longer file: truncated first, no old tail left.
        auto w2 = co_await corio::write_file(dir / "bin", text);
        REQUIRE(w2);
        auto small = co_await corio::read_file(dir / "bin");
        CHECK(small.value_or("") == text);

        auto a = co_await corio::write_file(dir / "bin", std::string_view("replaced"),
                                            {.atomic = true, .sync = true, .permissions = 0600});
        REQUIRE(a);
        auto after = co_await corio::read_file(dir / "bin");
        CHECK(after.value_or("") == "replaced");

        auto e = co_await corio::write_file(dir / "empty", std::string_view());
        REQUIRE(e);
        auto empty = co_await corio::read_file(dir / "empty");
        REQUIRE(empty);
        CHECK(empty->empty());
    }());
    // The atomic write left no temporary file behind.
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path)) {
        ++entries;
    }
    CHECK(entries == 2);
    struct stat st {};
    REQUIRE(::stat((dir / "bin").c_str(), &st) == 0);
    CHECK((st.st_mode & 0077) == 0);  // the atomic write's permissions
}

TEST_CASE("file: read_file refuses a file over max_size; reads files that report no size") {
    temp_dir dir;
    write_plain(dir / "k", pattern(1024));
    corio::runtime rt;
    rt.block_on([&]() -> task<> {
        auto over = co_await corio::read_file(dir / "k", {.max_size = 1023});
        CHECK(over.error() == std::errc::file_too_large);
        auto fits = co_await corio::read_file(dir / "k", {.max_size = 1024});
        CHECK(fits.value_or("").size() == 1024);
        // /proc files report size 0 and have content: read to the end, still bounded.
        auto status = co_await corio::read_file("/proc/self/status");
        REQUIRE(status);
        CHECK(status->find("Pid:") != std::string::npos);
        auto bounded = co_await corio::read_file("/proc/self/status", {.max_size = 16});
        CHECK(bounded.error() == std::errc::file_too_large);
    }());
}

TEST_CASE("file: fsync and fdatasync of written data; size follows writes") {
    temp_dir dir;
    corio::runtime rt;
    rt.block_on([&]() -> task<> {
        file f = co_await open_or_fail(dir / "s", open_flags::write | open_flags::create);
        CHECK(f.size().value_or(99) == 0);
        auto w = co_await f.write_all_at(0, pattern(8192));
        REQUIRE(w);
        auto s1 = co_await f.fsync();
        auto s2 = co_await f.fdatasync();
        CHECK(s1);
        CHECK(s2);
        CHECK(f.size().value_or(0) == 8192);
    }());
}

TEST_CASE("file: errors are the documented values") {
    temp_dir dir;
    write_plain(dir / "ro", bytes_of("read only"));
    corio::runtime rt;
    rt.block_on([&]() -> task<> {
        auto missing = co_await file::open(dir / "missing");
        CHECK(missing.error() == std::errc::no_such_file_or_directory);
        auto dir_write = co_await file::open(dir.path, open_flags::write);
        CHECK(dir_write.error() == std::errc::is_a_directory);
        auto dir_read = co_await corio::read_file(dir.path);
        CHECK(dir_read.error() == std::errc::is_a_directory);
        auto exists = co_await file::open(dir / "ro", open_flags::write | open_flags::create |
                                                          open_flags::exclusive);
        CHECK(exists.error() == std::errc::file_exists);
        auto nul = co_await file::open(std::string("a\0b", 3));
        CHECK(nul.error() == std::errc::invalid_argument);
        auto too_long = co_await file::open(dir.path / std::string(5000, 'x'));
        CHECK(too_long.error() == std::errc::filename_too_long);
        auto bad_flags = co_await file::open(dir / "ro", open_flags::read | open_flags::truncate);
        CHECK(bad_flags.error() == std::errc::invalid_argument);
        auto not_dir = co_await file::open(dir / "ro" / "below");
        CHECK(not_dir.error() == std::errc::not_a_directory);

        file ro = co_await open_or_fail(dir / "ro", open_flags::read);
        auto w = co_await ro.write_at(0, bytes_of("x"));
        CHECK(w.error() == std::errc::bad_file_descriptor);
        CHECK(ro.close());
        CHECK(ro.close().error() == corio::errc::closed);
        std::vector<std::byte> buf(4);
        auto closed_read = co_await ro.read_at(0, buf);
        CHECK(closed_read.error() == corio::errc::closed);
        file none;
        auto s = co_await none.fsync();
        CHECK(s.error() == corio::errc::closed);
        CHECK(none.size().error() == corio::errc::closed);
        CHECK(none.native_handle() == -1);
    }());
}

TEST_CASE("file: descriptors are close-on-exec") {
    temp_dir dir;
    write_plain(dir / "c", bytes_of("c"));
    corio::runtime rt;
    rt.block_on([&]() -> task<> {
        file f = co_await open_or_fail(dir / "c", open_flags::read);
        CHECK((::fcntl(f.native_handle(), F_GETFD) & FD_CLOEXEC) != 0);
        file created = co_await open_or_fail(dir / "d", open_flags::write | open_flags::create);
        CHECK((::fcntl(created.native_handle(), F_GETFD) & FD_CLOEXEC) != 0);
    }());
}

}  // namespace
