// SPDX-License-Identifier: MIT
// static_files and SIGPIPE: a client that leaves in the middle of a file (`curl ... | head`)
// must not kill the server. The server runs in a child process with SIGPIPE at its default
// action, as in a user's program, so a death by signal is seen instead of killing the runner;
// the test process is the client, so it can leave while the server is inside sendfile(2).
#include <corio/http/static_files.hpp>

#include <catch2/catch.hpp>

#include <corio/http/server.hpp>
#include <corio/io_handle.hpp>
#include <corio/runtime.hpp>

#include "support/blocking_client.hpp"

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace corio_test;
using namespace corio::http;
using corio::task;

constexpr int aborted_downloads = 24;
constexpr std::size_t big_size = 8 << 20;  // far more than the socket buffers hold

/// A directory holding big.bin (8 MiB) and small.txt, removed afterwards.
struct big_tree {
    std::string root;
    big_tree() {
        char dir[] = "/tmp/corio-sigpipe-XXXXXX";
        REQUIRE(::mkdtemp(dir));
        root = dir;
        std::ofstream(root + "/big.bin") << std::string(big_size, 'x');
        std::ofstream(root + "/small.txt") << "still here";
    }
    ~big_tree() {
        ::unlink((root + "/big.bin").c_str());
        ::unlink((root + "/small.txt").c_str());
        ::rmdir(root.c_str());
    }
};

// Serves until `quit` reaches end of file, then stops gracefully.
task<> stop_at_eof(corio::io_handle& quit, server& srv) {
    std::byte b[1];
    (void)co_await quit.read(b);
    srv.stop();
}

// The child: a server with default SIGPIPE handling. Writes its port to `ready`; exits 0 once
// the server stopped after `quit` closed, 2 if it could not start.
[[noreturn]] void run_server(const std::string& root, int ready, int quit) {
    std::signal(SIGPIPE, SIG_DFL);  // before the runtime exists: whatever it does is its own
    ::alarm(30);                    // a hang ends as SIGALRM, told apart from SIGPIPE
    int status = 2;
    try {
        corio::runtime rt;
        auto files = static_files::open(root);
        auto listener = corio::net::tcp_listener::bind({corio::net::ip_address::v4_loopback(), 0});
        const auto at = listener ? listener->local_endpoint() : corio::result<corio::net::endpoint>{};
        if (files && listener && at) {
            router r;
            r.fallback(files->as_handler());
            server srv(std::move(r));
            corio::io_handle quit_reader(quit);
            const std::uint16_t port = at->port();
            if (::write(ready, &port, sizeof port) == sizeof port) {
                auto served = rt.block_on([](server& srv, corio::net::tcp_listener& l,
                                             corio::io_handle& q) -> task<corio::result<void>> {
                    corio::spawn(stop_at_eof(q, srv));
                    co_return co_await srv.serve(l);
                }(srv, *listener, quit_reader));
                status = served ? 0 : 2;
            }
        }
    } catch (...) {
        status = 2;
    }
    std::_Exit(status);
}

// `curl ... | head`: asks for big.bin, reads `keep` bytes of it while the server is sending,
// and leaves with the rest unread (so the server's next bytes meet a reset).
bool abort_download(std::uint16_t port, std::size_t keep) {
    const int fd = connect_blocking(port);
    if (fd < 0 || !send_text(fd, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")) {
        ::close(fd);
        return false;
    }
    char buf[16 * 1024];
    std::size_t got = 0;
    ssize_t n = 0;
    while (got < keep && (n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return got >= keep;
}

std::string fetch_small(std::uint16_t port) {
    const int fd = connect_blocking(port);
    std::string all;
    if (fd >= 0 && send_text(fd, "GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) {
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
            all.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return all;
}

TEST_CASE("static files: a client leaving mid-file does not kill the server with SIGPIPE") {
    big_tree t;
    int ready[2], quit[2];
    REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(quit, O_CLOEXEC | O_NONBLOCK) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(ready[0]);
        ::close(quit[1]);
        run_server(t.root, ready[1], quit[0]);
    }
    ::close(ready[1]);
    ::close(quit[0]);
    std::uint16_t port = 0;
    const bool started = ::read(ready[0], &port, sizeof port) == sizeof port;
    ::close(ready[0]);
    int aborted = 0;
    std::string after;
    if (started) {
        for (int i = 0; i < aborted_downloads; ++i) {
            // Leave after 64 KiB .. 1 MiB: at different points of the server's sendfile loop.
            aborted += abort_download(port, std::size_t(64 * 1024) << (i % 5)) ? 1 : 0;
        }
        after = fetch_small(port);
    }
    ::close(quit[1]);  // the server stops once it sees end of file
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO("server process: " << (WIFSIGNALED(status) ? "killed by signal " : "exit status ")
                            << (WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status))
                            << " (signal 13: SIGPIPE, 14: hung; exit 2: did not start)");
    CHECK(started);
    CHECK(aborted == aborted_downloads);  // each download had begun when its client left
    CHECK(after.ends_with("still here"));  // the server still answers afterwards
    CHECK(WIFEXITED(status));
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

}  // namespace
