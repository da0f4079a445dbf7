// SPDX-License-Identifier: MIT
// http_server: a mini HTTP/1.1 server: /plaintext, /metrics, POST /echo, and files from --root.
#include <corio/http/server.hpp>
#include <corio/http/static_files.hpp>
#include <corio/runtime.hpp>
#include <corio/signal_listener.hpp>

#include "cli.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <fcntl.h>
#include <sys/select.h>
#include <unistd.h>

namespace {

using corio::task;
using namespace corio::http;

constexpr const char* usage =
    "usage: http_server [--host H] [--port P] [--root DIR] [--backend NAME] [--list-backends]\n"
    "                   [--help]\n"
    "Serves GET /plaintext (Hello, World!), GET /metrics (Prometheus), POST /echo (the body\n"
    "back) and, with --root, the files under DIR. Defaults: --host 127.0.0.1 --port 8080.\n"
    "SIGINT/SIGTERM: stop accepting, finish in-flight requests, exit 0.\n"
    "SIGUSR1: print every live task to stderr (where it was spawned, what it waits on).\n";

// SIGUSR1 prints every live task to stderr and waits on; any other signal is returned.
task<corio::result<int>> next_signal(corio::signal_listener& signals, const corio::runtime& rt) {
    for (;;) {
        auto sig = co_await signals.wait();
        if (!sig || *sig != SIGUSR1) {
            co_return sig;
        }
        fmt::print(stderr, "{}", rt.dump_tasks().to_string());
    }
}

// The first signal stops the server gracefully; a second one, while it drains, ends it at once.
task<> stop_on_signal(corio::signal_listener& signals, server& srv, const corio::runtime& rt) {
    auto sig = co_await next_signal(signals, rt);
    fmt::print(stderr, "http_server: {}, shutting down\n", sig ? strsignal(*sig) : "signal wait failed");
    srv.stop();
    sig = co_await next_signal(signals, rt);
    if (sig) {
        fmt::print(stderr, "http_server: {} again, exiting now\n", strsignal(*sig));
        std::_Exit(128 + *sig);
    }
}

// The descriptor the next socket gets: those below it are in use already.
int lowest_free_descriptor() {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(fd);
    return fd;
}

router routes(server*& srv, const std::optional<static_files>& files) {
    router r;
    r.route(method::get, "/plaintext", [](const request&) -> task<response> {
        co_return response(200, "Hello, World!", "text/plain");
    });
    r.route(method::get, "/metrics", [&srv](const request&) -> task<response> {
        co_return response(200, srv->metrics().prometheus_text(), "text/plain; version=0.0.4");
    });
    r.route(method::post, "/echo", [](const request& req) -> task<response> {
        co_return response(200, std::string(req.body), "application/octet-stream");
    });
    if (files) {
        r.fallback(files->as_handler());
    }
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", backend, root;
    std::uint16_t port = 8080;
    cli::args a(argc, argv, usage);
    while (a.next()) {
        if (a.common(backend)) {
        } else if (a.is("--host")) {
            host = a.value();
        } else if (a.is("--port")) {
            port = a.number<std::uint16_t>(0, 65535);
        } else if (a.is("--root")) {
            root = a.value();
        } else {
            a.unknown();
        }
    }
    const auto ep = a.endpoint(host, port);
    std::optional<static_files> files;
    if (!root.empty()) {
        auto f = static_files::open(root);
        if (!f) {
            a.fail(fmt::format("--root '{}': {}", root, f.error().message()));
        }
        files = std::move(*f);
    }
    cli::raise_fd_limit();
    corio::runtime rt = a.runtime(backend);
    auto listener = corio::net::tcp_listener::bind(ep);
    if (!listener) {
        fmt::print(stderr, "http_server: bind {}: {}\n", ep.to_string(), listener.error().message());
        return 1;
    }
    // Caught from before the server says it listens: a signal sent as soon as it does is not fatal.
    auto signals = corio::signal_listener::open({SIGINT, SIGTERM, SIGUSR1});
    if (!signals) {
        fmt::print(stderr, "http_server: signals: {}\n", signals.error().message());
        return 1;
    }
    server* self = nullptr;
    server srv(routes(self, files));
    self = &srv;
    fmt::print("listening on {} ({})\n", listener->local_endpoint()->to_string(), rt.backend_name());
    if (rt.backend_name() == "select") {
        // Clients past FD_SETSIZE get 503 (the server cannot watch them): say so up front.
        fmt::print("select: at most {} connections (FD_SETSIZE {})\n",
                   FD_SETSIZE - lowest_free_descriptor(), FD_SETSIZE);
    }
    std::fflush(stdout);
    auto served = rt.block_on([](corio::signal_listener& signals, server& srv,
                                 corio::net::tcp_listener& l,
                                 const corio::runtime& rt) -> task<corio::result<void>> {
        corio::spawn(stop_on_signal(signals, srv, rt));
        co_return co_await srv.serve(l);
    }(*signals, srv, *listener, rt));
    if (!served) {
        fmt::print(stderr, "http_server: {}\n", served.error().message());
        return 1;
    }
    return 0;
}
