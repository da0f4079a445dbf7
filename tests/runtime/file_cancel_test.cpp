// SPDX-License-Identifier: MIT
// Tests for corio/file.hpp, cancellation and load: a call cancelled before it runs did nothing, a
// read cancelled while the disk works never writes the caller's buffer afterwards, many reads
// at once, and a runtime destroyed under a pending read. Every backend.
#include <corio/file.hpp>

#include <catch2/catch.hpp>

#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/spawn_blocking.hpp>
#include <corio/task.hpp>
#include <corio/when_all.hpp>

#include "support/blocking_gate.hpp"
#include "support/temp_files.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace corio_test;
using corio::file;
using corio::open_flags;
using corio::result;
using corio::task;

const std::error_code canceled = std::make_error_code(std::errc::operation_canceled);

task<> hold_pool(corio_test::blocking_gate& hold, corio::event& released) {
    (void)co_await corio::spawn_blocking([&hold] { return hold.wait(); });
    released.set();
}

template <class Call>
task<> run_call(Call& call, std::stop_token token, std::error_code& got, corio::event& done) {
    got = co_await call(std::move(token));
    done.set();
}

/// One call cancelled after it was handed over but before it ran: on io_uring its SQE is still
/// in the loop's queue (stopped in the same turn), elsewhere it waits behind a call that holds
/// the pool's only thread. Returns what the call returned.
template <class Call>
task<std::error_code> cancel_before_it_runs(Call call) {
    corio_test::blocking_gate hold;
    corio::event released, done;
    std::stop_source stop;
    std::error_code got;
    corio::spawn(hold_pool(hold, released));
    corio::spawn(run_call(call, stop.get_token(), got, done));
    co_await corio::yield{};  // both run first in the next turn, then this, in one batch
    stop.request_stop();
    (void)co_await done.wait();
    hold.open();
    (void)co_await released.wait();
    co_return got;
}

TEST_CASE("file: a call cancelled before it runs did nothing") {
    temp_dir dir;
    const auto data = pattern(65536, 4);
    write_plain(dir / "f", data);
    corio::runtime rt(corio_test::with_blocking_threads(1));
    rt.block_on([&]() -> task<> {
        file f = co_await open_or_fail(dir / "f", open_flags::read_write);
        std::vector<std::byte> buf(data.size(), std::byte{0xAA});
        // A readiness loop first asks the page cache (RWF_NOWAIT). That call starts the
        // readahead, and on a fast disk the pages are sometimes in before it returns (3% of
        // calls here): then the read rightly completes at once. Each attempt starts cold again.
        constexpr int attempts = 10;
        int served_at_once = 0;
        for (; served_at_once < attempts; ++served_at_once) {
            if (!make_cold(dir / "f")) {
                WARN("posix_fadvise(DONTNEED) did not drop the file's pages here: a read would not wait");
                co_return;
            }
            std::size_t got = 0;
            const std::error_code read = co_await cancel_before_it_runs([&](std::stop_token t) -> task<std::error_code> {
                auto r = co_await f.read_at(0, buf, t);
                got = r.value_or(0);
                co_return r.error();
            });
            if (read == canceled) {
                CHECK(std::all_of(buf.begin(), buf.end(), [](std::byte b) { return b == std::byte{0xAA}; }));
                break;
            }
            // Served from the page cache before the stop: every byte is the file's.
            REQUIRE_FALSE(read);
            REQUIRE(got > 0);
            CHECK(std::equal(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(got), data.begin()));
            std::fill(buf.begin(), buf.end(), std::byte{0xAA});
        }
        INFO("every read was served before it could be cancelled: none waited for the pool");
        CHECK(served_at_once < attempts);

        const std::error_code write = co_await cancel_before_it_runs([&](std::stop_token t) -> task<std::error_code> {
            auto w = co_await f.write_at(0, bytes_of("overwritten"), t);
            co_return w.error();
        });
        CHECK(write == canceled);
        std::stop_source stopped;
        stopped.request_stop();
        auto sync = co_await f.fsync(stopped.get_token());
        CHECK(sync.error() == canceled);
    }());
    // The cancelled write never happened (the pool has finished everything by now).
    rt.block_on([&]() -> task<> {
        auto back = co_await corio::read_file(dir / "f");
        REQUIRE(back);
        CHECK(std::equal(data.begin(), data.end(), bytes_of(*back).begin()));
    }());
}

task<> read_into(file& f, std::vector<std::byte>& buf, std::stop_token token,
                 result<std::size_t>& got, corio::event& done) {
    got = co_await f.read_at(0, buf, std::move(token));
    done.set();
}

TEST_CASE("file: a read cancelled while the disk works never writes the caller's buffer later") {
    temp_dir dir;
    const auto data = pattern(16 << 20, 5);
    write_plain(dir / "big", data);
    if (!make_cold(dir / "big")) {
        WARN("posix_fadvise(DONTNEED) did not drop the file's pages here: a read would not wait");
        return;
    }
    auto buf = std::make_unique<std::vector<std::byte>>(data.size(), std::byte{0xAA});
    result<std::size_t> got = std::size_t{0};
    {
        corio::runtime rt;
        rt.block_on([&]() -> task<> {
            file f = co_await open_or_fail(dir / "big", open_flags::read);
            std::stop_source stop;
            corio::event done;
            corio::spawn(read_into(f, *buf, stop.get_token(), got, done));
            co_await corio::yield{};
            co_await corio::yield{};  // handed to the pool or the kernel, maybe reading now
            stop.request_stop();
            (void)co_await done.wait();
        }());
    }  // the runtime is gone: every pool job and kernel request has ended
    if (got) {
        // It completed before the stop arrived: its bytes are all there.
        CHECK(std::equal(buf->begin(), buf->begin() + static_cast<std::ptrdiff_t>(*got), data.begin()));
    } else {
        CHECK(got.error() == canceled);
        CHECK(std::all_of(buf->begin(), buf->end(), [](std::byte b) { return b == std::byte{0xAA}; }));
    }
}

TEST_CASE("file: many concurrent reads of a cold file each get their own bytes") {
    temp_dir dir;
    constexpr std::size_t chunk = 4096, chunks = 64;
    const auto data = pattern(chunk * chunks, 6);
    write_plain(dir / "m", data);
    (void)make_cold(dir / "m");  // cold or not, every read must be right
    corio::runtime rt;
    rt.block_on([&]() -> task<> {
        file f = co_await open_or_fail(dir / "m", open_flags::read);
        std::vector<std::vector<std::byte>> bufs(chunks, std::vector<std::byte>(chunk));
        std::vector<task<result<void>>> reads;
        for (std::size_t i = 0; i < chunks; ++i) {
            // In reverse order, so a mix-up of offsets cannot pass.
            const std::size_t at = (chunks - 1 - i) * chunk;
            reads.push_back(f.read_exact_at(at, bufs[i]));
        }
        auto results = co_await corio::when_all(std::move(reads));
        for (std::size_t i = 0; i < chunks; ++i) {
            REQUIRE(results[i]);
            const auto at = static_cast<std::ptrdiff_t>((chunks - 1 - i) * chunk);
            CHECK(std::equal(bufs[i].begin(), bufs[i].end(), data.begin() + at));
        }
    }());
}

TEST_CASE("file: a runtime destroyed while a read waits lets go cleanly") {
    temp_dir dir;
    write_plain(dir / "t", pattern(4 << 20, 7));
    (void)make_cold(dir / "t");
    auto buf = std::make_shared<std::vector<std::byte>>(4 << 20);
    {
        corio::runtime rt;
        auto f = std::make_shared<file>(rt.block_on(open_or_fail(dir / "t", open_flags::read)));
        rt.block_on([&]() -> task<> {
            corio::spawn([](std::shared_ptr<file> f, std::shared_ptr<std::vector<std::byte>> b) -> task<> {
                (void)co_await f->read_at(0, *b);
            }(f, buf));
            co_return;  // the read is still pending (or not even started) as the runtime goes
        }());
    }
    SUCCEED("destroyed with the read pending (ASan checks that nothing touched freed memory)");
}

}  // namespace
