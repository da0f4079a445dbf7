// SPDX-License-Identifier: MIT
// No corio operation raises SIGPIPE: writes to a pipe or socket whose reader is gone give EPIPE,
// whatever the application did with SIGPIPE, and the thread's mask is left as it was found.
#include <corio/io_handle.hpp>

#include <catch2/catch.hpp>

#include "support/child_process.hpp"
#include "support/socket_pair.hpp"

#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace {

using corio_test::as_bytes;

// Exit codes that say which check failed in the child (0: all held).
constexpr int wrong_error = 3;
constexpr int mask_changed = 4;
constexpr int left_pending = 5;
constexpr int handler_ran = 6;

bool is_epipe(const corio::result<std::size_t>& r) {
    return !r && r.error() == std::error_code(EPIPE, std::system_category());
}

bool is_epipe_or_reset(const corio::result<std::size_t>& r) {
    return is_epipe(r) || (!r && r.error() == std::error_code(ECONNRESET, std::system_category()));
}

struct nonblocking_pipe : corio_test::fd_pair {
    nonblocking_pipe() {
        if (::pipe2(fds_, O_NONBLOCK | O_CLOEXEC) != 0) {
            throw std::system_error(errno, std::system_category(), "pipe2");
        }
    }
};

corio::task<corio::result<std::size_t>> writev_text(corio::io_handle& h) {
    static constexpr char a[] = "abc";
    static constexpr char b[] = "def";
    const std::array<corio::const_buffer, 2> parts{{{a, 3}, {b, 3}}};
    co_return co_await h.writev(parts);
}

corio::task<corio::result<std::size_t>> send_text(corio::io_handle& h) {
    co_return co_await h.send(as_bytes("abcdef"));
}

corio::task<void> close_fd(int& fd) {
    ::close(std::exchange(fd, -1));
    co_return;
}

// `h`'s pipe is full: the writev parks, and the spawned task closes the reader only then (it runs
// once this task has suspended), so the retry after the wake-up is what meets EPIPE.
corio::task<corio::result<std::size_t>> writev_parked(corio::runtime& rt, corio::io_handle& h,
                                                      int& reader) {
    rt.spawn(close_fd(reader));
    co_return co_await writev_text(h);
}

void fill(int fd) {
    const std::vector<char> chunk(65536, 'x');
    while (::write(fd, chunk.data(), chunk.size()) > 0) {
    }
}

bool sigpipe_blocked() {
    sigset_t cur;
    sigemptyset(&cur);
    ::pthread_sigmask(SIG_BLOCK, nullptr, &cur);
    return sigismember(&cur, SIGPIPE) == 1;
}

bool sigpipe_pending() {
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    return sigismember(&pending, SIGPIPE) == 1;
}

// Runs the writes that raised SIGPIPE before, then checks the thread as the application sees it:
// SIGPIPE blocked only if the application blocked it, and nothing left pending.
int write_to_closed_readers(bool app_blocks) {
    corio::runtime rt;
    nonblocking_pipe p;
    p.close(0);
    corio::io_handle pipe_writer(p.take(1));
    if (!is_epipe(rt.block_on(writev_text(pipe_writer)))) {
        return wrong_error;
    }
    corio_test::socket_pair s;
    s.close(1);
    corio::io_handle sock(s.take(0));
    if (!is_epipe_or_reset(rt.block_on(send_text(sock))) ||
        !is_epipe_or_reset(rt.block_on(writev_text(sock)))) {
        return wrong_error;
    }
    nonblocking_pipe q;
    fill(q.fd(1));
    int reader = q.take(0);
    corio::io_handle parked(q.take(1));
    const auto r = rt.block_on(writev_parked(rt, parked, reader));
    if (reader >= 0 || !is_epipe(r)) {
        return wrong_error;
    }
    if (sigpipe_blocked() != app_blocks) {
        return mask_changed;
    }
    if (sigpipe_pending()) {
        return left_pending;
    }
    return 0;
}

std::atomic<int> handler_calls{0};
extern "C" void count_sigpipe(int) { handler_calls.fetch_add(1); }

}  // namespace

TEST_CASE("writev and send to a pipe or socket whose reader is gone give EPIPE and never kill "
          "the process with SIGPIPE") {
    CHECK(corio_test::run_in_child([] { return write_to_closed_readers(false); }, {SIGPIPE}) ==
          "exit 0");
}

TEST_CASE("an application's own SIGPIPE handler is not called by corio's writes") {
    CHECK(corio_test::run_in_child(
              [] {
                  ::signal(SIGPIPE, count_sigpipe);
                  const int r = write_to_closed_readers(false);
                  return r != 0 ? r : handler_calls.load() == 0 ? 0 : handler_ran;
              },
              {}) == "exit 0");
}

TEST_CASE("an application that blocks SIGPIPE itself finds it still blocked after run, with "
          "nothing of corio's pending") {
    CHECK(corio_test::run_in_child(
              [] {
                  sigset_t pipe;
                  sigemptyset(&pipe);
                  sigaddset(&pipe, SIGPIPE);
                  ::pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
                  return write_to_closed_readers(true);
              },
              {SIGPIPE}) == "exit 0");
}
