// SPDX-License-Identifier: MIT
// http_server: a mini HTTP/1.1 server: /plaintext, /metrics, POST /echo, and files from --root,
// on one loop per thread (--threads N), each with its own server and SO_REUSEPORT listener.
#include <corio/http/server.hpp>
#include <corio/http/static_files.hpp>
#include <corio/latch.hpp>
#include <corio/oneshot.hpp>
#include <corio/runtime.hpp>
#include <corio/signal_listener.hpp>

#include "cli.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/select.h>
#include <unistd.h>

namespace {

using corio::task;
using namespace corio::http;

constexpr const char* usage =
    "usage: http_server [--host H] [--port P] [--root DIR] [--backend NAME] [--threads N]\n"
    "                   [--list-backends] [--help]\n"
    "Serves GET /plaintext (Hello, World!), GET /metrics (Prometheus, summed over every loop),\n"
    "POST /echo (the body back) and, with --root, the files under DIR. Defaults: --host\n"
    "127.0.0.1 --port 8080 --threads 1 (N loops, each on its own thread and SO_REUSEPORT listener).\n"
    "H is an address or a name such as localhost, bound at its first address.\n"
    "SIGINT/SIGTERM: stop accepting, finish in-flight requests, exit 0.\n"
    "SIGUSR1: print every live task to stderr (where it was spawned, what it waits on).\n";

// The first signal stops every loop's server gracefully; a second one, while they drain, ends
// the process at once. SIGUSR1 dumps the tasks in between.
task<> stop_on_signal(corio::signal_listener& signals, std::stop_source& stop,
                      const corio::runtime& rt) {
    auto sig = co_await cli::next_signal(signals, rt);
    fmt::print(stderr, "http_server: {}, shutting down\n", sig ? strsignal(*sig) : "signal wait failed");
    stop.request_stop();
    sig = co_await cli::next_signal(signals, rt);
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

// Each loop's server; loop i serves with servers[i], and only loop i may touch it.
using server_list = std::vector<std::unique_ptr<server>>;

task<> snapshot(const server& srv, corio::oneshot<server_metrics>::sender to) {
    (void)to.send(srv.metrics());  // fails only if the asking request is gone: nothing to do
    co_return;
}

// Every loop's counters, each read on its own loop and handed back here.
task<server_metrics> all_metrics(const server_list& servers) {
    server_metrics sum;
    for (unsigned i = 0; i < servers.size(); ++i) {
        if (i == corio::current_loop()) {
            sum += servers[i]->metrics();
            continue;
        }
        auto [to, from] = corio::oneshot<server_metrics>::make();
        corio::spawn_on(i, snapshot(*servers[i], std::move(to)));
        if (auto m = co_await from.recv()) {
            sum += *m;
        }
    }
    co_return sum;
}

router routes(const server_list& servers, const std::optional<static_files>& files) {
    router r;
    r.route(method::get, "/plaintext", [](const request&) -> task<response> {
        co_return response(200, "Hello, World!", "text/plain");
    });
    r.route(method::get, "/metrics", [&servers](const request&) -> task<response> {
        const server_metrics sum = co_await all_metrics(servers);
        co_return response(200, sum.prometheus_text(), "text/plain; version=0.0.4");
    });
    r.route(method::post, "/echo", [](const request& req) -> task<response> {
        co_return response(200, std::string(req.body), "application/octet-stream");
    });
    if (files) {
        r.fallback(files->as_handler());
    }
    return r;
}

// Counts the loops still serving, and those that failed.
struct loops_serving {
    corio::latch finished;
    std::atomic<int> failed{0};
};

// One loop's server, until `stop`.
task<> serve_loop(server& srv, corio::net::tcp_listener listener, std::stop_token stop,
                  loops_serving& loops) {
    auto served = co_await srv.serve(listener, std::move(stop));
    // operation_canceled is how serve() reports the graceful stop that `stop` asked for.
    if (!served && served.error() != std::errc::operation_canceled) {
        fmt::print(stderr, "http_server: loop {}: {}\n", corio::current_loop(), served.error().message());
        loops.failed.fetch_add(1);
    }
    loops.finished.count_down();
}


}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", backend, root;
    std::uint16_t port = 8080;
    unsigned threads = 1;
    cli::args a(argc, argv, usage);
    while (a.next()) {
        if (a.common(backend)) {
        } else if (a.is("--host")) {
            host = a.value();
        } else if (a.is("--port")) {
            port = a.number<std::uint16_t>(0, 65535);
        } else if (a.is("--root")) {
            root = a.value();
        } else if (a.is("--threads")) {
            threads = a.number<unsigned>(1, 256);
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
    corio::runtime rt = a.runtime(backend, threads);
    auto listeners = cli::bind_listeners(ep, threads);
    if (!listeners) {
        fmt::print(stderr, "http_server: bind {}: {}\n", ep.to_string(), listeners.error().message());
        return 1;
    }
    // Caught from before the server says it listens: a signal sent as soon as it does is not fatal.
    auto signals = corio::signal_listener::open({SIGINT, SIGTERM, SIGUSR1});
    if (!signals) {
        fmt::print(stderr, "http_server: signals: {}\n", signals.error().message());
        return 1;
    }
    server_list servers;
    for (unsigned i = 0; i < threads; ++i) {
        servers.push_back(std::make_unique<server>(routes(servers, files)));
    }
    fmt::print("listening on {} ({})\n", listeners->front().local_endpoint()->to_string(),
               rt.backend_name());
    if (rt.backend_name() == "select") {
        // Clients past FD_SETSIZE get 503 (the server cannot watch them): say so up front.
        fmt::print("select: at most {} connections (FD_SETSIZE {})\n",
                   FD_SETSIZE - lowest_free_descriptor(), FD_SETSIZE);
    }
    std::fflush(stdout);
    const int failed = rt.block_on([](corio::runtime& rt, corio::signal_listener& signals,
                                      server_list& servers,
                                      std::vector<corio::net::tcp_listener> listeners) -> task<int> {
        std::stop_source stop;
        loops_serving loops{corio::latch(static_cast<std::ptrdiff_t>(servers.size()))};
        corio::spawn(stop_on_signal(signals, stop, rt));
        for (unsigned i = 0; i < servers.size(); ++i) {
            rt.spawn_on(i, serve_loop(*servers[i], std::move(listeners[i]), stop.get_token(), loops));
        }
        (void)co_await loops.finished.wait();
        co_return loops.failed.load();
    }(rt, *signals, servers, std::move(*listeners)));
    return failed == 0 ? 0 : 1;
}
