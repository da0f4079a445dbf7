// SPDX-License-Identifier: MIT
// Tests for corio/pipe.hpp: bytes through a pipe exactly once and in order, end of stream,
// EPIPE without SIGPIPE, cancellation that consumes nothing, adopt's checks, on every backend.
#include <corio/pipe.hpp>

#include <catch2/catch.hpp>

#include "support/child_process.hpp"
#include "support/stream_io.hpp"

#include <corio/error.hpp>
#include <corio/runtime.hpp>
#include <corio/stream.hpp>
#include <corio/task.hpp>
#include <corio/when_all.hpp>

#include <array>
#include <cerrno>
#include <csignal>
#include <stop_token>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

namespace {

using corio_test::read_to_end;
using corio_test::write_all;

const std::error_code epipe(EPIPE, std::system_category());
const std::error_code canceled = std::make_error_code(std::errc::operation_canceled);

corio::pipe_ends new_pipe() {
    auto p = corio::make_pipe();
    REQUIRE(p);
    return std::move(*p);
}

bool nonblocking_cloexec(int fd) {
    return (::fcntl(fd, F_GETFL) & O_NONBLOCK) && (::fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

// Fills the pipe until a write would block; returns the bytes it holds.
std::size_t fill(int fd) {
    const std::string chunk(4096, 'f');
    std::size_t total = 0;
    for (;;) {
        const ssize_t n = ::write(fd, chunk.data(), chunk.size());
        if (n <= 0) {
            return total;
        }
        total += static_cast<std::size_t>(n);
    }
}

corio::task<void> request_stop(std::stop_source& s) {
    s.request_stop();
    co_return;
}

TEST_CASE("pipe_reader and pipe_writer are corio streams") {
    STATIC_REQUIRE(corio::async_read_stream<corio::pipe_reader>);
    STATIC_REQUIRE(corio::async_write_stream<corio::pipe_writer>);
}

TEST_CASE("make_pipe gives two non-blocking, close-on-exec ends") {
    auto p = new_pipe();
    CHECK(nonblocking_cloexec(p.reader.fd()));
    CHECK(nonblocking_cloexec(p.writer.fd()));
}

// Writes `text` and reads it back at once, so neither side waits for the other to finish.
corio::task<std::tuple<corio::result<void>, corio::result<std::string>>> pump(
    corio::pipe_reader& r, corio::pipe_writer& w, const std::string& text) {
    co_return co_await corio::when_all(write_all(w, text), read_to_end(r));
}

TEST_CASE("4 MiB written while it is read arrive exactly once and in order, then end of stream") {
    corio::runtime rt;
    auto p = new_pipe();
    const std::string text = corio_test::pattern(4 << 20);  // far more than the pipe holds
    auto [sent, got] = rt.block_on(pump(p.reader, p.writer, text));
    REQUIRE(sent);
    REQUIRE(got);
    CHECK(got->size() == text.size());
    CHECK(*got == text);
}

corio::task<corio::result<std::size_t>> gathered(corio::pipe_ends& p, std::string& out) {
    static constexpr char a[] = "gather";
    static constexpr char b[] = "ed";
    const std::array<corio::const_buffer, 2> parts{{{a, 6}, {b, 2}}};
    auto n = co_await p.writer.writev(parts);
    (void)p.writer.shutdown(corio::shutdown_how::both);
    auto got = co_await read_to_end(p.reader);
    out = got ? *got : "";
    co_return n;
}

TEST_CASE("writev gathers its buffers into the pipe") {
    corio::runtime rt;
    auto p = new_pipe();
    std::string out;
    auto n = rt.block_on(gathered(p, out));
    REQUIRE(n);
    CHECK(*n == 8);
    CHECK(out == "gathered");
    CHECK_FALSE(p.writer.is_open());
}

corio::task<corio::result<std::size_t>> send_text(corio::pipe_writer& w, std::string text) {
    co_return co_await w.send(std::as_bytes(std::span(text.data(), text.size())));
}

TEST_CASE("a write whose reader is gone gives EPIPE, and SIGPIPE (default action) never comes") {
    // In a child whose SIGPIPE kills it, as in a program that never touched SIGPIPE.
    const std::string how = corio_test::run_in_child(
        [] {
            corio::runtime rt;
            auto p = corio::make_pipe();
            if (!p) {
                return 2;
            }
            (void)p->reader.close();
            auto r = rt.block_on(send_text(p->writer, "nobody reads this"));
            return !r && r.error() == std::error_code(EPIPE, std::system_category()) ? 0 : 3;
        },
        {SIGPIPE});
    CHECK(how == "exit 0");
}

corio::task<void> close_reader(corio::pipe_reader& r) {
    (void)r.close();
    co_return;
}

corio::task<corio::result<std::size_t>> send_then_reader_closes(corio::pipe_ends& p) {
    corio::spawn(close_reader(p.reader));  // runs once the send below has parked
    co_return co_await send_text(p.writer, "more");
}

TEST_CASE("a write parked on a full pipe gets EPIPE when the reader closes") {
    corio::runtime rt;
    auto p = new_pipe();
    fill(p.writer.fd());
    auto r = rt.block_on(send_then_reader_closes(p));
    REQUIRE_FALSE(r);
    CHECK(r.error() == epipe);
}

struct cancel_outcome {
    corio::result<std::size_t> cancelled;
    std::string rest;
};

// A read cancelled while it waits; then data is written and everything left is read.
corio::task<cancel_outcome> cancelled_read(corio::pipe_ends& p) {
    std::stop_source stop;
    corio::spawn(request_stop(stop));  // runs once the read below has parked
    std::array<std::byte, 64> buf;
    auto first = co_await p.reader.recv(buf, stop.get_token());
    (void)co_await write_all(p.writer, "after the cancel");
    auto rest = co_await read_to_end(p.reader);
    co_return cancel_outcome{first, rest ? *rest : std::string("error")};
}

TEST_CASE("a cancelled read resumes with operation_canceled and consumes nothing") {
    corio::runtime rt;
    auto p = new_pipe();
    auto out = rt.block_on(cancelled_read(p));
    REQUIRE_FALSE(out.cancelled);
    CHECK(out.cancelled.error() == canceled);
    CHECK(out.rest == "after the cancel");
}

// A write cancelled while the pipe is full; then the pipe is drained.
corio::task<cancel_outcome> cancelled_write(corio::pipe_ends& p) {
    std::stop_source stop;
    corio::spawn(request_stop(stop));  // runs once the send below has parked
    const std::string text = "not written";
    auto first = co_await p.writer.send(std::as_bytes(std::span(text.data(), text.size())),
                                        stop.get_token());
    (void)p.writer.close();
    auto rest = co_await read_to_end(p.reader);
    co_return cancel_outcome{first, rest ? *rest : std::string("error")};
}

TEST_CASE("a cancelled write resumes with operation_canceled and writes nothing") {
    corio::runtime rt;
    auto p = new_pipe();
    const std::size_t held = fill(p.writer.fd());
    auto out = rt.block_on(cancelled_write(p));
    REQUIRE_FALSE(out.cancelled);
    CHECK(out.cancelled.error() == canceled);
    CHECK(out.rest == std::string(held, 'f'));  // what fill() wrote, and nothing after it
}

corio::task<void> second_read(corio::pipe_reader& r, int& usage_errors) {
    std::array<std::byte, 8> buf;
    try {
        (void)co_await r.read(buf);
    } catch (const corio::usage_error&) {
        ++usage_errors;
    }
}

corio::task<void> write_after(corio::pipe_writer& w, int& usage_errors) {
    std::string text = usage_errors == 1 ? "ok" : "no";
    (void)co_await send_text(w, std::move(text));
}

corio::task<corio::result<std::size_t>> two_reads_then_data(corio::pipe_ends& p,
                                                            int& usage_errors) {
    corio::spawn(second_read(p.reader, usage_errors));
    corio::spawn(write_after(p.writer, usage_errors));
    std::array<std::byte, 8> buf;
    auto r = co_await p.reader.read(buf);
    co_return r;
}

TEST_CASE("a second concurrent read on one pipe_reader throws usage_error") {
    corio::runtime rt;
    auto p = new_pipe();
    int usage_errors = 0;
    auto r = rt.block_on(two_reads_then_data(p, usage_errors));
    CHECK(usage_errors == 1);
    REQUIRE(r);
    CHECK(*r == 2);  // the first read was not disturbed: it got the writer's "ok"
}

corio::task<corio::result<std::size_t>> read_some(corio::pipe_reader& r) {
    std::array<std::byte, 8> buf;
    co_return co_await r.recv(buf);
}

TEST_CASE("an empty or closed pipe end fails with errc::closed") {
    corio::runtime rt;
    corio::pipe_reader empty;
    auto r = rt.block_on(read_some(empty));
    REQUIRE_FALSE(r);
    CHECK(r.error() == corio::errc::closed);
    corio::pipe_writer none;
    auto w = rt.block_on(send_text(none, "x"));
    REQUIRE_FALSE(w);
    CHECK(w.error() == corio::errc::closed);
}

TEST_CASE("shutdown closes a pipe end in its own direction, and refuses the other") {
    auto p = new_pipe();
    auto wrong_r = p.reader.shutdown(corio::shutdown_how::send);
    auto wrong_w = p.writer.shutdown(corio::shutdown_how::receive);
    REQUIRE_FALSE(wrong_r);
    REQUIRE_FALSE(wrong_w);
    CHECK(wrong_r.error() == std::errc::invalid_argument);
    CHECK(wrong_w.error() == std::errc::invalid_argument);
    CHECK(p.reader.is_open());
    CHECK(p.writer.is_open());
    CHECK(p.writer.shutdown(corio::shutdown_how::send));
    CHECK(p.reader.shutdown(corio::shutdown_how::receive));
    CHECK_FALSE(p.writer.is_open());
    CHECK_FALSE(p.reader.is_open());
}

TEST_CASE("adopt takes a pipe's descriptors and makes them non-blocking and close-on-exec") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);  // blocking, inherited by exec: adopt must change both
    auto r = corio::pipe_reader::adopt(fds[0]);
    auto w = corio::pipe_writer::adopt(fds[1]);
    REQUIRE(r);
    REQUIRE(w);
    CHECK(nonblocking_cloexec(r->fd()));
    CHECK(nonblocking_cloexec(w->fd()));
    corio::runtime rt;
    auto [sent, got] = rt.block_on(pump(*r, *w, "through adopted ends"));
    CHECK(sent);
    REQUIRE(got);
    CHECK(*got == "through adopted ends");
}

TEST_CASE("adopt refuses a bad descriptor and a regular file, taking nothing") {
    auto bad = corio::pipe_reader::adopt(-1);
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == std::error_code(EBADF, std::system_category()));
    auto p = new_pipe();
    const int closed_fd = p.writer.release();
    ::close(closed_fd);
    auto gone = corio::pipe_writer::adopt(closed_fd);
    REQUIRE_FALSE(gone);
    CHECK(gone.error() == std::error_code(EBADF, std::system_category()));

    char path[] = "/tmp/corio-pipe-test-XXXXXX";
    const int file = ::mkostemp(path, O_CLOEXEC);
    REQUIRE(file >= 0);
    ::unlink(path);
    auto regular = corio::pipe_reader::adopt(file);
    REQUIRE_FALSE(regular);
    CHECK(regular.error() == std::errc::invalid_argument);
    CHECK(::fcntl(file, F_GETFD) >= 0);  // not taken: still open, and still the caller's
    ::close(file);
}

}  // namespace
