// SPDX-License-Identifier: MIT
// echo_server: one coroutine per connection echoes every byte, on one loop per thread (--threads);
// SIGINT/SIGTERM drain and exit.
#include <corio/cancel.hpp>
#include <corio/latch.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/runtime.hpp>
#include <corio/signal_listener.hpp>
#include <corio/task_group.hpp>

#include "cli.hpp"

#include <fmt/format.h>

#include <csignal>
#include <stop_token>
#include <vector>
#include <cstdlib>

using namespace std::chrono_literals;
using corio::task;
using corio::net::tcp_listener;
using corio::net::tcp_stream;

constexpr const char* usage =
    "usage: echo_server [--host H] [--port P] [--backend NAME] [--threads N]\n"
    "                   [--drain-seconds S] [--stats] [--list-backends] [--help]\n"
    "Echoes every byte on each TCP connection. Defaults: --host 127.0.0.1 --port 7000 (H: an\n"
    "address or a name such as localhost, bound at its first address);\n"
    "on SIGINT/SIGTERM it stops accepting and gives open connections S seconds (default 5).\n"
    "--threads N: N loops, each on its own thread with its own SO_REUSEPORT listener (default 1).\n"
    "--stats: at exit, print the backend's counters (io_uring: SQEs per io_uring_enter).\n"
    "SIGUSR1 prints every live task to stderr (where it was spawned, what it waits on).\n";

// A peer that resets or vanishes is routine; anything else (e.g. select's fd_set_overflow
// for a descriptor past FD_SETSIZE) is worth a line.
void report(std::error_code e) {
    if (e && e != std::errc::connection_reset && e != std::errc::broken_pipe &&
        e != corio::errc::closed) {
        fmt::print(stderr, "echo_server: closing a connection: {}\n", e.message());
    }
}

task<> echo(tcp_stream s) {
    (void)s.set_nodelay(true);
    for (;;) {
        auto data = co_await s.recv();  // borrows a pooled buffer only once bytes arrived
        if (!data || data->empty()) {
            report(data ? std::error_code{} : data.error());
            break;  // error or end of stream
        }
        if (auto sent = co_await s.send_all(data->bytes()); !sent) {
            report(sent.error());
            break;
        }
    }
}

// The first signal drains every loop; a second one, while draining, ends the server at once.
task<> stop_on_signal(corio::signal_listener& signals, std::stop_source& stop,
                      const corio::runtime& rt) {
    auto sig = co_await cli::next_signal(signals, rt);
    fmt::print(stderr, "echo_server: {}, draining\n", sig ? strsignal(*sig) : "signal wait failed");
    stop.request_stop();  // each loop's pending accept() resumes with operation_canceled
    sig = co_await cli::next_signal(signals, rt);
    if (sig) {
        fmt::print(stderr, "echo_server: {} again, exiting now\n", strsignal(*sig));
        std::_Exit(128 + *sig);
    }
}

task<> join(corio::task_group& group) { co_await group.join(); }

// One loop's server: accepts on its own listener until `stop`, then drains its connections.
// They live in a task_group, so none outlives this frame.
task<> serve(tcp_listener listener, std::stop_token stop, std::chrono::seconds drain,
             corio::latch& finished) {
    corio::task_group connections;
    for (;;) {
        auto s = co_await listener.accept(stop);
        if (!s) {
            if (s.error() == std::errc::operation_canceled) {
                break;
            }
            fmt::print(stderr, "echo_server: accept: {}\n", s.error().message());
            continue;
        }
        connections.spawn(echo(std::move(*s)));
    }
    (void)listener.close();
    if (const std::size_t open = connections.size(); open > 0) {
        // At the deadline the group's children are cancelled, and join() waits for them to end.
        auto drained = co_await corio::with_timeout(drain, join(connections));
        fmt::print(stderr, "echo_server: {} connection(s) {}\n", open,
                   drained ? "left" : "still open at the deadline; closed them");
    }
    finished.count_down();
}

task<> serve_all(corio::runtime& rt, corio::signal_listener& signals,
                 std::vector<tcp_listener> listeners, std::chrono::seconds drain) {
    std::stop_source stop;
    corio::latch finished(static_cast<std::ptrdiff_t>(listeners.size()));
    corio::spawn(stop_on_signal(signals, stop, rt));
    for (unsigned i = 0; i < listeners.size(); ++i) {
        rt.spawn_on(i, serve(std::move(listeners[i]), stop.get_token(), drain, finished));
    }
    (void)co_await finished.wait();
}


int main(int argc, char** argv) {
    std::string host = "127.0.0.1", backend;
    std::uint16_t port = 7000;
    int drain = 5;
    unsigned threads = 1;
    bool stats = false;
    cli::args a(argc, argv, usage);
    while (a.next()) {
        if (a.common(backend)) {
        } else if (a.is("--host")) {
            host = a.value();
        } else if (a.is("--port")) {
            port = a.number<std::uint16_t>(0, 65535);
        } else if (a.is("--threads")) {
            threads = a.number<unsigned>(1, 256);
        } else if (a.is("--stats")) {
            stats = true;
        } else if (a.is("--drain-seconds")) {
            drain = a.number<int>(0, 3600);
        } else {
            a.unknown();
        }
    }
    const auto ep = a.endpoint(host, port);
    cli::raise_fd_limit();
    corio::runtime rt = a.runtime(backend, threads);
    auto listeners = cli::bind_listeners(ep, threads);
    if (!listeners) {
        fmt::print(stderr, "echo_server: bind {}: {}\n", ep.to_string(), listeners.error().message());
        return 1;
    }
    // Caught from before the server says it listens: a signal sent as soon as it does is not fatal.
    auto signals = corio::signal_listener::open({SIGINT, SIGTERM, SIGUSR1});
    if (!signals) {
        fmt::print(stderr, "echo_server: signals: {}\n", signals.error().message());
        return 1;
    }
    fmt::print("listening on {} ({})\n", listeners->front().local_endpoint()->to_string(),
               rt.backend_name());
    std::fflush(stdout);
    rt.block_on(serve_all(rt, *signals, std::move(*listeners), std::chrono::seconds(drain)));
    if (stats) {
        const corio::reactor_stats st = rt.backend_stats();
        fmt::print(stderr, "echo_server: {} enters, {} SQEs submitted ({:.2f} per enter), {} operations, "
                   "{} ENOBUFS retries\n", st.enters, st.submissions,
                   st.enters ? static_cast<double>(st.submissions) / static_cast<double>(st.enters) : 0.0,
                   st.operations, st.buffer_retries);
    }
    return 0;
}
