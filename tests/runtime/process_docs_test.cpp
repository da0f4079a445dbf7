// SPDX-License-Identifier: MIT
// The programs docs/process.md shows, compiled and run: collecting a command's output, feeding
// a filter while reading it, and a deadline that kills the child.
#include <corio/process.hpp>

#include <catch2/catch.hpp>

#include <corio/cancel.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/when_all.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;

// docs/process.md, "Run a command and collect its output".
struct command_output {
    corio::process::exit_status status;
    std::string out;
};

corio::task<corio::result<command_output>> run(std::vector<std::string> argv) {
    auto child = corio::process::spawn(argv, {.out = corio::process::stdio::pipe});
    if (!child) {
        co_return child.error();  // ENOENT, EACCES...: the program did not start
    }
    std::string out;
    std::array<std::byte, 4096> buf;
    for (;;) {
        auto n = co_await child->stdout_pipe.read(buf);
        if (!n) {
            co_return n.error();
        }
        if (*n == 0) {
            break;  // end of stream: the child closed its stdout (it usually exited)
        }
        out.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
    auto status = co_await child->wait();
    if (!status) {
        co_return status.error();
    }
    co_return command_output{*status, std::move(out)};
}

// docs/process.md, "Feed a filter while reading it": write and read at once, so that neither
// pipe fills up while the other side waits.
corio::task<corio::result<void>> feed(corio::pipe_writer& in, std::string_view text) {
    auto rest = std::as_bytes(std::span(text.data(), text.size()));
    while (!rest.empty()) {
        auto n = co_await in.write(rest);
        if (!n) {
            co_return n.error();  // EPIPE if the child stopped reading: no SIGPIPE
        }
        rest = rest.subspan(*n);
    }
    co_return in.shutdown(corio::shutdown_how::send);  // the child sees end of file
}

corio::task<std::string> collect(corio::pipe_reader& out) {
    std::string text;
    std::array<std::byte, 4096> buf;
    for (;;) {
        auto n = co_await out.read(buf);
        if (!n || *n == 0) {
            co_return text;
        }
        text.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
}

corio::task<corio::result<std::string>> sorted(std::string lines) {
    using corio::process::stdio;
    auto child = corio::process::spawn(
        {"sort"}, {.in = stdio::pipe, .out = stdio::pipe, .env = {{"LC_ALL", "C"}}});
    if (!child) {
        co_return child.error();
    }
    auto [fed, out, status] = co_await corio::when_all(feed(child->stdin_pipe, lines),
                                                       collect(child->stdout_pipe), child->wait());
    if (!fed) {
        co_return fed.error();
    }
    if (!status) {
        co_return status.error();
    }
    co_return out;
}

// docs/process.md, "A deadline": kill_on_cancel kills and reaps the child when the wait is
// cancelled, here by with_timeout.
corio::task<corio::result<corio::process::exit_status>> run_for(std::vector<std::string> argv,
                                                                corio::clock_type::duration limit) {
    auto child = corio::process::spawn(argv, {.kill_on_cancel = true});
    if (!child) {
        co_return child.error();
    }
    co_return co_await corio::with_timeout(limit, child->wait());  // timed_out: killed, reaped
}

TEST_CASE("docs/process.md: run a command and collect its output") {
    corio::runtime rt;
    auto r = rt.block_on(run({"echo", "hello from a child"}));
    REQUIRE(r);
    CHECK(r->status.success());
    CHECK(r->out == "hello from a child\n");
    auto missing = rt.block_on(run({"corio-no-such-program"}));
    REQUIRE_FALSE(missing);
    CHECK(missing.error() == std::errc::no_such_file_or_directory);
}

TEST_CASE("docs/process.md: feed a filter while reading it") {
    corio::runtime rt;
    std::string lines;
    for (int i = 20000; i > 0; --i) {  // about 110 KiB: more than one pipe holds
        lines += std::to_string(i) + "\n";
    }
    auto out = rt.block_on(sorted(lines));
    REQUIRE(out);
    CHECK(out->size() == lines.size());
    CHECK(out->rfind("1\n10\n100\n1000\n10000\n10001\n", 0) == 0);
}

TEST_CASE("docs/process.md: a deadline kills the child") {
    corio::runtime rt;
    auto r = rt.block_on(run_for({"sleep", "1000"}, 50ms));
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::timed_out);
    auto quick = rt.block_on(run_for({"true"}, 10s));
    REQUIRE(quick);
    CHECK(quick->success());
}

}  // namespace
