// SPDX-License-Identifier: MIT
// static_files behind a server: types, conditional GET, and paths that try to leave the root.
#include <corio/http/static_files.hpp>

#include <catch2/catch.hpp>

#include <corio/http/server.hpp>

#include "support/descriptor_limit.hpp"
#include "support/net_loopback.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using namespace corio_test;
using namespace corio::http;
using corio::task;
using corio::net::tcp_stream;

/// A directory tree under /tmp, removed afterwards: index.html, a.txt, sub/b.css, a symlink
/// to a.txt inside the tree and one to a file outside it.
struct tree {
    std::string root;
    std::string outside;
    tree() {
        char dir[] = "/tmp/corio-static-XXXXXX";
        REQUIRE(::mkdtemp(dir));
        root = dir;
        outside = root + "-secret.txt";
        write(root + "/index.html", "<h1>home</h1>");
        write(root + "/a.txt", "plain text");
        REQUIRE(::mkdir((root + "/sub").c_str(), 0755) == 0);
        write(root + "/sub/b.css", "p{}");
        write(outside, "SECRET");
        REQUIRE(::symlink("a.txt", (root + "/inside").c_str()) == 0);
        REQUIRE(::symlink(outside.c_str(), (root + "/escape").c_str()) == 0);
        REQUIRE(::symlink("..", (root + "/up").c_str()) == 0);
    }
    ~tree() {
        for (const char* f : {"/index.html", "/a.txt", "/sub/b.css", "/inside", "/escape", "/up"}) {
            ::unlink((root + f).c_str());
        }
        ::rmdir((root + "/sub").c_str());
        ::rmdir(root.c_str());
        ::unlink(outside.c_str());
    }
    static void write(const std::string& path, std::string_view text) {
        std::ofstream(path) << text;
    }
};

static_files open_root(const std::string& root) {
    auto files = static_files::open(root);
    REQUIRE(files);
    return std::move(*files);
}

router files_only(const static_files& files) {
    router r;
    r.fallback(files.as_handler());
    return r;
}

/// A server with only the files of `root` behind it, serving on a loopback port until stopped.
struct site {
    static_files files;
    server srv;
    corio::net::tcp_listener listener = bind_loopback();
    explicit site(const std::string& root) : files(open_root(root)), srv(files_only(files)) {
        corio::spawn([](server& s, corio::net::tcp_listener& l) -> task<> {
            (void)co_await s.serve(l);
        }(srv, listener));
    }
};

/// Sends one request on a new connection and returns the whole exchange's reply text.
task<std::string> fetch(const corio::net::endpoint& at, std::string request) {
    auto s = co_await tcp_stream::connect(at);
    require_ok(s, "connect");
    require_ok(co_await s->send_all(bytes_of(request)), "send_all");
    auto all = co_await recv_to_end(*s);  // "Connection: close" in every request below
    require_ok(all, "recv");
    co_return std::move(*all);
}

std::string get(std::string_view path, std::string_view extra = {}) {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
           std::string(extra) + "\r\n";
}

/// The soft descriptor limit that leaves room for `spare` more descriptors.
rlim_t spare_descriptors(int spare) {
    const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // the lowest free one
    REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    return static_cast<rlim_t>(lowest_free + spare);
}

std::string status_of(const std::string& reply) { return reply.substr(9, 3); }
std::string body_of(const std::string& reply) { return reply.substr(reply.find("\r\n\r\n") + 4); }

TEST_CASE("static files: content, types, HEAD and If-Modified-Since") {
    tree t;
    run_test([](tree& t) -> task<> {
        site web(t.root);
        const auto at = endpoint_of(web.listener);

        const std::string home = co_await fetch(at, get("/"));
        CHECK(status_of(home) == "200");
        CHECK(body_of(home) == "<h1>home</h1>");
        CHECK(home.find("Content-Type: text/html; charset=utf-8\r\n") != std::string::npos);
        const std::string css = co_await fetch(at, get("/sub/b.css"));
        CHECK(body_of(css) == "p{}");
        CHECK(css.find("Content-Type: text/css") != std::string::npos);
        // co_await outside CHECK: g++ 12 mishandles temporaries of a co_await in a
        // macro-decomposed expression.
        const std::string inside = co_await fetch(at, get("/inside"));  // symlink in the tree
        CHECK(body_of(inside) == "plain text");
        const std::string dotted = co_await fetch(at, get("/a%2Etxt"));  // %2E is '.'
        CHECK(body_of(dotted) == "plain text");

        const std::string head = co_await fetch(at, "HEAD /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        CHECK(head.find("Content-Length: 10\r\n") != std::string::npos);
        CHECK(body_of(head).empty());

        const std::size_t lm = home.find("Last-Modified: ");
        REQUIRE(lm != std::string::npos);
        const std::string stamp = home.substr(lm + 15, 29);
        const std::string again = co_await fetch(at, get("/", "If-Modified-Since: " + stamp + "\r\n"));
        CHECK(status_of(again) == "304");
        CHECK(body_of(again).empty());
        const std::string older = co_await fetch(at, get("/", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
        CHECK(status_of(older) == "200");
        web.srv.stop();
    }(t));
}

TEST_CASE("static files: nothing outside the root is ever served") {
    tree t;
    run_test([](tree& t) -> task<> {
        site web(t.root);
        const auto at = endpoint_of(web.listener);
        const std::string secret_name = t.outside.substr(t.outside.rfind('/') + 1);
        const std::vector<std::string> hostile = {"/../" + secret_name, "/%2e%2e/" + secret_name, "/%2E%2E/" + secret_name,
              "/sub/../../" + secret_name, "/sub%2f..%2f..%2f" + secret_name, "/a.txt%00.html",
              "/escape", "/up/" + secret_name, "/%zz"};
        for (const std::string& path : hostile) {
            const std::string reply = co_await fetch(at, get(path));
            CAPTURE(path, reply);
            CHECK((status_of(reply) == "403" || status_of(reply) == "404" || status_of(reply) == "400"));
            CHECK(reply.find("SECRET") == std::string::npos);
        }
        const std::string missing = co_await fetch(at, get("/missing.txt"));
        CHECK(status_of(missing) == "404");
        const std::string post = co_await fetch(at, "POST /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        CHECK(status_of(post) == "405");
        web.srv.stop();
    }(t));
}

TEST_CASE("static files: out of descriptors is 503 with Retry-After, not 403") {
    if (corio_test::vptr_checks_need_descriptors()) {
        WARN("skipped: UBSan's vptr check needs free descriptors (support/descriptor_limit.hpp)");
        return;
    }
    tree t;
    const static_files files = open_root(t.root);
    request file_req;
    file_req.path = "/a.txt";
    request dir_req;  // opens the directory, then its index.html
    dir_req.path = "/";
    const auto expect_unavailable = [](const response& r) {
        CHECK(r.status() == 503);
        CHECK(r.fields().find("Retry-After: 1\r\n") != std::string::npos);
        CHECK(r.file().fd < 0);
    };
    {
        descriptor_cap none_left(spare_descriptors(0));
        expect_unavailable(files.serve(file_req));
        expect_unavailable(files.serve(dir_req));
    }
    {
        descriptor_cap one_left(spare_descriptors(1));  // the directory opens, its index.html does not
        expect_unavailable(files.serve(dir_req));
    }
    // Descriptors back: served again, so nothing was leaked or cached as refused.
    const response ok = files.serve(file_req);
    CHECK(ok.status() == 200);
    CHECK(ok.file().size == 10);
    const response missing = [&] {
        request r;
        r.path = "/missing.txt";
        return files.serve(r);
    }();
    CHECK(missing.status() == 404);
}

}  // namespace
