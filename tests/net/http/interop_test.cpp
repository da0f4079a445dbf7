// SPDX-License-Identifier: MIT
// corio::http::server against real clients, on every backend: curl (framing, keep-alive, HEAD,
// 100-continue, chunked uploads, HTTP/1.0, errors), ab (load with and without keep-alive) and
// Python's http.client. A missing tool fails the test, naming the package to install.
#include <corio/http/server.hpp>

#include <catch2/catch.hpp>

#include <corio/event.hpp>
#include <corio/io_handle.hpp>
#include <corio/runtime.hpp>

#include "support/net_loopback.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

using namespace corio_test;
using namespace corio::http;
using corio::task;

/// The absolute path of `name`, or a test failure naming the Debian package that provides it
/// (scripts/install-deps.sh installs them all, so a silent skip would hide a broken setup).
std::string tool(const std::string& name, const std::string& package) {
    if (name == "python3" && ::access("/usr/bin/python3", X_OK) == 0) {
        return "/usr/bin/python3";  // the system one, not a pyenv shim
    }
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const std::string candidate = dir + "/" + name;
        if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    FAIL(name << " is not on PATH: install the Debian package " << package
              << " (scripts/install-deps.sh does)");
    return {};
}

/// A temporary directory for request bodies, replies and clients' stderr; removed afterwards.
struct scratch {
    std::filesystem::path dir;
    scratch() {
        char name[] = "/tmp/corio-interop-XXXXXX";
        REQUIRE(::mkdtemp(name));
        dir = name;
    }
    ~scratch() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
    std::string file(const std::string& name) const { return (dir / name).string(); }
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Writes `size` pattern bytes (every byte value, NUL, CR and LF included) to `path`.
std::string write_body(const std::string& path, std::size_t size, std::uint64_t seed) {
    std::string data(size, '\0');
    fill_pattern(seed, 0, std::as_writable_bytes(std::span(data)));
    std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(size));
    return data;
}

/// What a client run left: its exit code (128 + signal if killed), stdout and stderr.
struct ran {
    int code = -1;
    std::string out;
    std::string err;
};

/// Owns a child process: kills and reaps it unless wait() already reaped it (a failed test).
struct child {
    pid_t pid = -1;
    ~child() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            (void)wait();
        }
    }
    int wait() {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
};

/// Runs `argv` with stdin from /dev/null, stdout into a pipe the loop reads (so the server keeps
/// serving meanwhile) and stderr into `err_path`. Its stdout closing at exit ends the wait.
task<ran> run_tool(const std::vector<std::string>& argv, const std::string& err_path) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    REQUIRE(::fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
    corio::io_handle out(fds[0]);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    ::posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> args;
    for (const std::string& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    child c;
    const int spawned = ::posix_spawn(&c.pid, args[0], &actions, nullptr, args.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    REQUIRE(spawned == 0);
    ran r;
    std::byte buf[16384];
    for (;;) {
        auto n = co_await out.read(buf);
        require_ok(n, "read the client's stdout");
        if (*n == 0) {
            break;
        }
        r.out.append(reinterpret_cast<const char*>(buf), *n);
    }
    r.code = c.wait();
    r.err = slurp(err_path);
    co_return r;
}

/// A server with /plaintext and /echo on a loopback port, serving until stop().
struct fixture {
    std::unique_ptr<server> srv;
    corio::net::tcp_listener listener = bind_loopback();
    corio::event done;
    std::string base;  // "http://127.0.0.1:PORT"
    scratch tmp;

    fixture() {
        router r;
        r.route(method::get, "/plaintext", [](const request&) -> task<response> {
            co_return response(200, "Hello, World!", "text/plain");
        });
        r.route(method::post, "/echo", [](const request& req) -> task<response> {
            co_return response(200, std::string(req.body), "application/octet-stream");
        });
        server_options o;
        o.limits.max_body = 8 << 20;  // the 2 MiB upload below
        srv = std::make_unique<server>(std::move(r), std::move(o));
        base = "http://127.0.0.1:" + std::to_string(endpoint_of(listener).port());
        corio::spawn([](fixture& f) -> task<> {
            auto served = co_await f.srv->serve(f.listener);
            CHECK(served);
            f.done.set();
        }(*this));
    }
    std::string url(const std::string& path) const { return base + path; }
    task<ran> run(const std::vector<std::string>& argv) {
        co_return co_await run_tool(argv, tmp.file("stderr"));
    }
    task<> stop() {
        srv->stop();
        (void)co_await done.wait();
    }
};

/// curl, verbose, without ~/.curlrc (-q, which must come first) or proxies from the
/// environment, giving up (and saying so) before the test's deadline. --next resets
/// per-transfer options, so they are repeated after each one.
std::vector<std::string> curl(const std::vector<std::string>& args) {
    const std::vector<std::string> each = {"-sS", "--noproxy", "*", "--max-time", "20"};
    std::vector<std::string> argv = {tool("curl", "curl"), "-q", "-v"};
    argv.insert(argv.end(), each.begin(), each.end());
    for (const std::string& a : args) {
        argv.push_back(a);
        if (a == "--next") {
            argv.insert(argv.end(), each.begin(), each.end());
        }
    }
    return argv;
}

const std::string summary = "\n%{http_code} %{content_type} connects=%{num_connects}\n";

// The checks are plain functions: an INFO in a coroutine would span co_awaits, where other
// tasks' assertions pick it up. Argument lists are built before each co_await: g++ 12 fails
// ("array used as initializer") on a braced list whose lifetime spans one.

void check_reuse(const ran& r) {
    INFO("curl stderr:\n" << r.err);
    CHECK(r.code == 0);
    CHECK(r.out == "Hello, World!\n200 text/plain connects=1\n"
                   "Hello, World!\n200 text/plain connects=0\n");
    CHECK(r.err.find("Re-using existing connection") != std::string::npos);
}

TEST_CASE("interop: curl GET /plaintext twice in one run reuses the connection", "[http][interop]") {
    run_test([]() -> task<> {
        fixture f;
        const auto argv = curl({"-w", summary, f.url("/plaintext"), f.url("/plaintext")});
        const ran r = co_await f.run(argv);
        check_reuse(r);
        co_await f.stop();
    }());
}

/// Whether curl's verbose log has the line `line` (as curl shows it: "> " sent, "< " received).
bool logged(const ran& r, const std::string& line) {
    return r.err.find("\n" + line + "\r\n") != std::string::npos;
}

/// A POST to /echo of `size` pattern bytes from a file, with curl's `extra` options; `logged`
/// lists lines curl's verbose log must show.
struct upload {
    std::size_t size;
    std::vector<std::string> extra;
    std::vector<std::string> logged;
};

void check_echo(const ran& r, const upload& u, const std::string& reply, const std::string& sent) {
    INFO("curl stderr:\n" << r.err);
    CHECK(r.code == 0);
    CHECK(r.out == "200");
    CHECK(reply.size() == sent.size());
    CHECK((reply == sent));  // parenthesised: a mismatch must not print a megabyte
    for (const std::string& line : u.logged) {
        CHECK(logged(r, line));
    }
    // Without a 100 Continue curl sends the body after a second anyway: the echo alone would
    // not show a missing one.
    CHECK(r.err.find("Done waiting for 100-continue") == std::string::npos);
}

/// Sends `u` and checks the reply is the body, byte for byte.
task<> echo_file(fixture& f, const upload& u) {
    const std::string sent = write_body(f.tmp.file("body"), u.size, u.size);
    std::vector<std::string> args = u.extra;
    std::string from = "@";  // not "@" + ...: a false -Wrestrict of g++ 12 in a coroutine
    from += f.tmp.file("body");
    args.insert(args.end(), {"--data-binary", from, "-o", f.tmp.file("reply"), "-w", "%{http_code}",
                             f.url("/echo")});
    const auto argv = curl(args);
    const ran r = co_await f.run(argv);
    check_echo(r, u, slurp(f.tmp.file("reply")), sent);
}

TEST_CASE("interop: curl POST echoes small and 1 MiB binary bodies exactly", "[http][interop]") {
    run_test([]() -> task<> {
        fixture f;
        const upload small{300, {}, {"> Content-Length: 300"}};
        co_await echo_file(f, small);
        const upload big{1 << 20, {}, {"> Content-Length: 1048576"}};
        co_await echo_file(f, big);
        co_await f.stop();
    }());
}

TEST_CASE("interop: curl chunked upload is de-chunked and echoed exactly", "[http][interop]") {
    run_test([]() -> task<> {
        fixture f;
        const upload chunked{(1 << 20) + 13, {"-H", "Transfer-Encoding: chunked"},
                             {"> Transfer-Encoding: chunked"}};
        co_await echo_file(f, chunked);
        co_await f.stop();
    }());
}

TEST_CASE("interop: curl gets 100 Continue for Expect, its own (2 MiB) or asked for", "[http][interop]") {
    run_test([]() -> task<> {
        fixture f;
        // curl (7.88, Debian 12) adds Expect: 100-continue by itself above 1 MiB.
        const upload automatic{2 << 20, {}, {"> Expect: 100-continue", "< HTTP/1.1 100 Continue"}};
        co_await echo_file(f, automatic);
        const upload asked{1000, {"-H", "Expect: 100-continue"},
                           {"> Expect: 100-continue", "< HTTP/1.1 100 Continue"}};
        co_await echo_file(f, asked);
        co_await f.stop();
    }());
}

void check_head(const ran& r) {
    INFO("curl stderr:\n" << r.err);
    CHECK(r.code == 0);
    CHECK(r.out.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(r.out.find("\r\nContent-Length: 13\r\n") != std::string::npos);
    CHECK(r.out.find("\r\nContent-Type: text/plain\r\n") != std::string::npos);
    CHECK(r.out.ends_with("\r\n\r\nHello, World!\n200 text/plain connects=0\n"));
}

TEST_CASE("interop: curl HEAD has Content-Length and no body (the next GET parses)", "[http][interop]") {
    run_test([]() -> task<> {
        fixture f;
        // A body after the HEAD response would be read as the start of the GET's response.
        const auto argv = curl({"-I", f.url("/plaintext"), "--next", "-w", summary, f.url("/plaintext")});
        const ran r = co_await f.run(argv);
        check_head(r);
        co_await f.stop();
    }());
}

void check_errors(const ran& r) {
    INFO("curl stdout:\n" << r.out << "\ncurl stderr:\n" << r.err);
    CHECK(r.code == 0);
    CHECK(r.out.starts_with("HTTP/1.1 404 Not Found\r\n"));
    const std::size_t second = r.out.find("HTTP/1.1 405 Method Not Allowed\r\n");
    REQUIRE(second != std::string::npos);
    CHECK(r.out.find("\r\nAllow: POST\r\n", second) != std::string::npos);
}

TEST_CASE("interop: curl sees 404 for an unknown path and 405 with Allow", "[http][interop]") {
    run_test([]() -> task<> {
        fixture f;
        const auto argv = curl({"-i", f.url("/missing"), "--next", "-i", "-X", "DELETE", f.url("/echo")});
        const ran r = co_await f.run(argv);
        check_errors(r);
        co_await f.stop();
    }());
}

void check_http10(const ran& r) {
    INFO("curl stderr:\n" << r.err);
    CHECK(r.code == 0);
    CHECK(logged(r, "> GET /plaintext HTTP/1.0"));
    // A 1.0 request without keep-alive: the server closes, so the second needs a new connection.
    CHECK(r.out == "Hello, World!\n200 text/plain connects=1\n"
                   "Hello, World!\n200 text/plain connects=1\n");
}

TEST_CASE("interop: curl --http1.0 GET and POST; the server closes each connection", "[http][interop]") {
    run_test([]() -> task<> {
        fixture f;
        const auto argv = curl({"--http1.0", "-w", summary, f.url("/plaintext"), f.url("/plaintext")});
        const ran r = co_await f.run(argv);
        check_http10(r);
        const upload post{5000, {"--http1.0"}, {"> POST /echo HTTP/1.0"}};
        co_await echo_file(f, post);
        co_await f.stop();
    }());
}

/// The value after `label` on its line of ab's report, trimmed; "absent" if no line has it.
std::string ab_field(const std::string& report, const std::string& label) {
    const std::size_t at = report.find("\n" + label);
    if (at == std::string::npos) {
        return "absent";
    }
    const std::size_t from = report.find_first_not_of(' ', at + 1 + label.size());
    return report.substr(from, report.find('\n', from) - from);
}

/// Checks ab's report of 2000 GETs of a 13-byte page; `keep_alive`: the -k count expected.
void check_ab(const ran& r, const std::string& keep_alive) {
    INFO("ab stdout:\n" << r.out << "\nab stderr:\n" << r.err);
    CHECK(r.code == 0);
    CHECK(ab_field(r.out, "Complete requests:") == "2000");
    CHECK(ab_field(r.out, "Failed requests:") == "0");
    CHECK(ab_field(r.out, "Non-2xx responses:") == "absent");
    CHECK(ab_field(r.out, "Document Length:") == "13 bytes");
    CHECK(ab_field(r.out, "Keep-Alive requests:") == keep_alive);
}

std::vector<std::string> ab(const fixture& f, bool keep_alive) {
    std::vector<std::string> argv = {tool("ab", "apache2-utils"), "-q", "-n", "2000", "-c", "20"};
    if (keep_alive) {
        argv.push_back("-k");
    }
    argv.push_back(f.url("/plaintext"));
    return argv;
}

TEST_CASE("interop: ab -k: 2000 keep-alive requests from 20 clients, none failed", "[http][interop]") {
    run_test([]() -> task<> {
        fixture f;
        const auto argv = ab(f, true);
        const ran r = co_await f.run(argv);
        check_ab(r, "2000");
        co_await f.stop();
    }(), 60s);
}

TEST_CASE("interop: ab without -k: 2000 requests on 2000 connections, none failed", "[http][interop]") {
    run_test([]() -> task<> {
        fixture f;
        // ab sends HTTP/1.0 without keep-alive and reads each response to the connection's
        // end: a server that did not close after the response would stall it.
        const auto argv = ab(f, false);
        const ran r = co_await f.run(argv);
        check_ab(r, "absent");  // ab reports the keep-alive count only with -k
        co_await f.stop();
    }(), 60s);
}

// One connection for every request; each check names itself when it fails. A HEAD body or a
// mis-framed reply would break the requests after it, and `c.sock is sock` would not hold if
// the server had closed the connection (http.client reconnects silently).
const char* const python_client = R"(
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
bad = []
def call(method, path, want_status, body=None, **kw):
    c.request(method, path, body=body, **kw)
    r = c.getresponse()
    data = r.read()
    if r.status != want_status:
        bad.append("%s %s: status %d" % (method, path, r.status))
    return r, data
r, data = call("GET", "/plaintext", 200)
sock = c.sock
if data != b"Hello, World!" or r.getheader("Content-Type") != "text/plain":
    bad.append("GET body %r type %r" % (data[:40], r.getheader("Content-Type")))
payload = bytes(range(256)) * 1024
r, data = call("POST", "/echo", 200, payload)
if data != payload:
    bad.append("POST echo: %d bytes back" % len(data))
r, data = call("HEAD", "/plaintext", 200)
if data != b"" or r.getheader("Content-Length") != "13":
    bad.append("HEAD body %r length %r" % (data, r.getheader("Content-Length")))
call("GET", "/missing", 404)
r, data = call("POST", "/echo", 200, iter([b"hello, ", b"chunked ", b"world"]), encode_chunked=True)
if data != b"hello, chunked world":
    bad.append("chunked echo %r" % data[:40])
call("GET", "/plaintext", 200)
if c.sock is not sock:
    bad.append("the connection was not kept alive")
print("python-interop: " + ("ok" if not bad else "FAILED: " + "; ".join(bad)))
)";

void check_python(const ran& r) {
    INFO("python stderr:\n" << r.err);
    CHECK(r.code == 0);
    CHECK(r.out == "python-interop: ok\n");
}

TEST_CASE("interop: Python http.client: six requests on one kept-alive connection", "[http][interop]") {
    run_test([]() -> task<> {
        fixture f;
        const std::string port = f.base.substr(f.base.rfind(':') + 1);
        const std::vector<std::string> argv = {tool("python3", "python3"), "-c", python_client, port};
        const ran r = co_await f.run(argv);
        check_python(r);
        co_await f.stop();
    }());
}

}  // namespace
