// SPDX-License-Identifier: MIT
// Tests for process::spawn (corio/process.hpp): stdio pipes, exit status, working directory,
// environment, PATH lookup, spawn errors as values, no descriptor leaked into the child, and
// the child's signal mask and SIGPIPE disposition, on every backend.
#include <corio/process.hpp>

#include <catch2/catch.hpp>

#include "support/socket_pair.hpp"
#include "support/stream_io.hpp"

#include <corio/runtime.hpp>
#include <corio/signal_listener.hpp>
#include <corio/task.hpp>
#include <corio/when_all.hpp>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using corio::process::exit_status;
using corio::process::stdio;
using corio_test::read_to_end;
using corio_test::write_all;

std::error_code sys(int e) {
    return {e, std::system_category()};
}

corio::process::child start(const std::vector<std::string>& argv,
                            const corio::process::options& o) {
    auto c = corio::process::spawn(argv, o);
    INFO(argv[0] << ": " << (c ? std::string("started") : c.error().message()));
    REQUIRE(c);
    return std::move(*c);
}

struct finished {
    std::string out;
    corio::result<exit_status> status;
};

// Reads the child's stdout to its end, then waits for it.
corio::task<finished> output_of(corio::process::child& c) {
    auto out = co_await read_to_end(c.stdout_pipe);
    auto status = co_await c.wait();
    co_return finished{out ? *out : "read error: " + out.error().message(), status};
}

finished run(const std::vector<std::string>& argv, corio::process::options o = {}) {
    corio::runtime rt;
    o.out = stdio::pipe;
    auto c = start(argv, o);
    return rt.block_on(output_of(c));
}

corio::task<std::tuple<corio::result<void>, corio::result<std::string>, corio::result<exit_status>>>
echo_through(corio::process::child& c, const std::string& text) {
    co_return co_await corio::when_all(write_all(c.stdin_pipe, text), read_to_end(c.stdout_pipe),
                                       c.wait());
}

TEST_CASE("cat echoes 4 MiB through its stdin and stdout pipes, written and read at once") {
    corio::runtime rt;
    auto c = start({"cat"}, {.in = stdio::pipe, .out = stdio::pipe});
    const std::string text = corio_test::pattern(4 << 20);  // far more than both pipes hold
    auto [sent, got, status] = rt.block_on(echo_through(c, text));
    REQUIRE(sent);
    REQUIRE(got);
    CHECK(got->size() == text.size());
    CHECK(*got == text);
    REQUIRE(status);
    CHECK(status->success());
}

TEST_CASE("wait reports the exit code, and success only for 0") {
    const auto seven = run({"sh", "-c", "exit 7"});
    REQUIRE(seven.status);
    CHECK(seven.status->code() == 7);
    CHECK_FALSE(seven.status->signal());
    CHECK_FALSE(seven.status->success());
    CHECK(corio::process::to_string(*seven.status) == "exit code 7");
    const auto zero = run({"true"});
    REQUIRE(zero.status);
    CHECK(zero.status->success());
}

TEST_CASE("wait reports the signal that killed the child") {
    const auto killed = run({"sh", "-c", "kill -TERM $$"});
    REQUIRE(killed.status);
    CHECK(killed.status->signal() == SIGTERM);
    CHECK_FALSE(killed.status->code());
    CHECK(*killed.status == exit_status::signaled(SIGTERM));
}

TEST_CASE("stderr goes to its own pipe; a null stdin reads as empty") {
    corio::runtime rt;
    auto c = start({"sh", "-c", "cat; echo oops >&2"},
                   {.in = stdio::null, .out = stdio::pipe, .err = stdio::pipe});
    CHECK_FALSE(c.stdin_pipe.is_open());
    auto [out, err, status] = rt.block_on(
        corio::when_all(read_to_end(c.stdout_pipe), read_to_end(c.stderr_pipe), c.wait()));
    REQUIRE(out);
    REQUIRE(err);
    CHECK(*out == "");
    CHECK(*err == "oops\n");
    REQUIRE(status);
    CHECK(status->success());
}

std::string temp_dir() {
    char tmpl[] = "/tmp/corio-process-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    char* real = ::realpath(tmpl, nullptr);
    std::string dir = real;
    std::free(real);
    return dir;
}

TEST_CASE("the child runs in options::cwd, and finds a relative program there") {
    const std::string dir = temp_dir();
    const std::string script = dir + "/hello.sh";
    {
        const int fd = ::open(script.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        REQUIRE(fd >= 0);
        const std::string body = "#!/bin/sh\npwd\n";
        REQUIRE(::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()));
        ::close(fd);
    }
    const auto pwd = run({"pwd"}, {.cwd = dir});
    CHECK(pwd.out == dir + "\n");
    const auto relative = run({"./hello.sh"}, {.cwd = dir});
    CHECK(relative.out == dir + "\n");
    ::unlink(script.c_str());
    ::rmdir(dir.c_str());
}

TEST_CASE("the environment is inherited, changed, or cleared as asked") {
    REQUIRE(::setenv("CORIO_PROCESS_TEST_KEEP", "kept", 1) == 0);
    REQUIRE(::setenv("CORIO_PROCESS_TEST_DROP", "dropped", 1) == 0);
    corio::process::options o;
    o.set_env("CORIO_PROCESS_TEST_NEW", "new").unset_env("CORIO_PROCESS_TEST_DROP");
    const auto changed = run(
        {"sh", "-c",
         "echo $CORIO_PROCESS_TEST_KEEP ${CORIO_PROCESS_TEST_DROP-unset} $CORIO_PROCESS_TEST_NEW"},
        o);
    CHECK(changed.out == "kept unset new\n");
    const auto cleared = run({"/usr/bin/env"}, {.clear_env = true, .env = {{"ONLY", "this"}}});
    CHECK(cleared.out == "ONLY=this\n");
    const auto inherited = run({"sh", "-c", "echo $CORIO_PROCESS_TEST_DROP"});
    CHECK(inherited.out == "dropped\n");
    ::unsetenv("CORIO_PROCESS_TEST_KEEP");
    ::unsetenv("CORIO_PROCESS_TEST_DROP");
}

TEST_CASE("a program name is looked up in the child's PATH when the options set it") {
    auto none =
        corio::process::spawn({"cat"}, corio::process::options{}.set_env("PATH", "/nonexistent"));
    REQUIRE_FALSE(none);
    CHECK(none.error() == sys(ENOENT));
    const auto found =
        run({"echo", "found"}, corio::process::options{}.set_env("PATH", "/nonexistent:/bin"));
    CHECK(found.out == "found\n");
}

std::error_code spawn_error(const std::vector<std::string>& argv,
                            const corio::process::options& o = {}) {
    auto c = corio::process::spawn(argv, o);
    return c ? std::error_code() : c.error();
}

TEST_CASE("spawn errors come back as values, with no child started") {
    CHECK(spawn_error({"/nonexistent/program"}) == sys(ENOENT));
    CHECK(spawn_error({"corio-no-such-program"}) == sys(ENOENT));
    CHECK(spawn_error({"true"}, {.cwd = "/nonexistent/dir"}) == sys(ENOENT));
    CHECK(spawn_error({"/tmp"}) == sys(EACCES));  // a directory
    const std::string dir = temp_dir();
    const std::string plain = dir + "/not-executable";
    const int fd = ::open(plain.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    ::close(fd);
    CHECK(spawn_error({plain}) == sys(EACCES));
    CHECK(spawn_error({"not-executable"}, corio::process::options{}.set_env("PATH", dir)) ==
          sys(EACCES));
    ::unlink(plain.c_str());
    ::rmdir(dir.c_str());
    const auto invalid = std::make_error_code(std::errc::invalid_argument);
    CHECK(spawn_error({}) == invalid);
    CHECK(spawn_error({"echo", std::string("a\0b", 3)}) == invalid);
    CHECK(spawn_error({"true"}, {.env = {{"A=B", "c"}}}) == invalid);
    CHECK(spawn_error({"true"}, {.env = {{"", "c"}}}) == invalid);
}

// Descriptors above 2 this process holds without close-on-exec: not corio's (the test runner
// may have been started with some), so every child inherits them, as exec passes them on.
std::set<int> inheritable_fds() {
    std::set<int> fds;
    for (int fd = 3; fd < 1024; ++fd) {
        const int flags = ::fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) {
            fds.insert(fd);
        }
    }
    return fds;
}

std::set<int> listed_fds(const std::string& ls_output) {
    std::set<int> fds;
    std::istringstream in(ls_output);
    int fd;
    while (in >> fd) {
        fds.insert(fd);
    }
    return fds;
}

TEST_CASE("the child gets no descriptor but its stdio, while the parent holds many open") {
    corio::runtime rt;  // its reactor's descriptors
    corio_test::socket_pair sockets;
    auto pipe = corio::make_pipe();
    REQUIRE(pipe);
    auto listener = corio::signal_listener::open(corio::signal_set{SIGUSR2});
    REQUIRE(listener);
    const int file = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    REQUIRE(file >= 0);
    // Another child's pidfd and pipes are open in the parent too.
    auto other = start({"cat"}, {.in = stdio::pipe, .out = stdio::pipe});
    const std::set<int> foreign = inheritable_fds();
    if (!foreign.empty()) {
        WARN(foreign.size()
             << " descriptor(s) the test runner left inheritable; expected in the child");
    }
    // ls lists its own descriptors: 0, 1, 2, and one for the directory it reads.
    auto c = start({"ls", "/proc/self/fd"}, {.in = stdio::null, .out = stdio::pipe});
    auto listed = rt.block_on(output_of(c));
    std::set<int> extra = listed_fds(listed.out);
    INFO("ls /proc/self/fd in the child:\n" << listed.out);
    for (int fd : {0, 1, 2}) {
        CHECK(extra.erase(fd) == 1);
    }
    for (int fd : foreign) {
        extra.erase(fd);
    }
    CHECK(extra.size() == 1);  // ls's own directory descriptor, and nothing of corio's
    (void)other.stdin_pipe.close();
    auto other_status = rt.block_on(other.wait());
    CHECK(other_status);
    ::close(file);
}

// The bits of a /proc/<pid>/status mask line ("SigBlk:\t0000000000010000").
std::uint64_t mask_line(const std::string& status, const std::string& name) {
    std::istringstream in(status);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(name + ":", 0) == 0) {
            return std::stoull(line.substr(name.size() + 1), nullptr, 16);
        }
    }
    FAIL("no " << name << " line in:\n" << status);
    return 0;
}

TEST_CASE("the child starts with no signal blocked and SIGPIPE at its default action") {
    // The parent blocks SIGUSR1 (and a loop blocks SIGPIPE) and ignores SIGPIPE.
    struct sigaction ignore {
    }, old_pipe{};
    ignore.sa_handler = SIG_IGN;
    REQUIRE(::sigaction(SIGPIPE, &ignore, &old_pipe) == 0);
    sigset_t usr1, old_mask;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask) == 0);
    const auto status = run({"cat", "/proc/self/status"});
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::sigaction(SIGPIPE, &old_pipe, nullptr);
    CHECK(mask_line(status.out, "SigBlk") == 0);
    CHECK((mask_line(status.out, "SigIgn") & (std::uint64_t{1} << (SIGPIPE - 1))) == 0);
}

}  // namespace
