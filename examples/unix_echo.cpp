// SPDX-License-Identifier: MIT
// unix_echo: the echo server on a Unix domain stream socket. It replaces a stale socket file
// left by a server that died, unlinks its own on exit, and drains on SIGINT/SIGTERM.
#include <corio/cancel.hpp>
#include <corio/net/unix_listener.hpp>
#include <corio/runtime.hpp>
#include <corio/signal_listener.hpp>
#include <corio/task_group.hpp>

#include "cli.hpp"
#include "unix_cli.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <stop_token>
#include <string>

using corio::task;
using corio::net::unix_address;
using corio::net::unix_listener;
using corio::net::unix_stream;

constexpr const char* usage =
    "usage: unix_echo --path PATH [--backend NAME] [--list-backends] [--help]\n"
    "Echoes every byte on each connection to the Unix stream socket at PATH (a leading '@'\n"
    "names a Linux abstract socket, which has no file). A socket file nobody listens on is\n"
    "replaced; a live socket or any other file at PATH is an error. The file is removed on\n"
    "exit. SIGINT/SIGTERM stop accepting and give open connections 5 seconds.\n";

task<> echo(unix_stream s) {
    for (;;) {
        auto data = co_await s.recv();  // borrows a pooled buffer only once bytes arrived
        if (!data || data->empty()) {
            break;  // error or end of stream
        }
        if (!co_await s.send_all(data->bytes())) {
            break;
        }
    }
}

task<> join(corio::task_group& group) { co_await group.join(); }

// Accepts until a signal, then drains the open connections (at most 5 s) and returns, so
// the listener's destructor unlinks the socket file.
task<> serve(unix_listener& listener, corio::signal_listener& signals, const corio::runtime& rt) {
    std::stop_source stop;
    corio::spawn([](corio::signal_listener& signals, std::stop_source& stop,
                    const corio::runtime& rt) -> task<> {
        auto sig = co_await cli::next_signal(signals, rt);
        fmt::print(stderr, "unix_echo: {}, draining\n", sig ? strsignal(*sig) : "signal wait failed");
        stop.request_stop();
    }(signals, stop, rt));
    corio::task_group connections;
    for (;;) {
        auto s = co_await listener.accept(stop.get_token());
        if (!s) {
            if (s.error() == std::errc::operation_canceled) {
                break;
            }
            fmt::print(stderr, "unix_echo: accept: {}\n", s.error().message());
            continue;
        }
        connections.spawn(echo(std::move(*s)));
    }
    (void)co_await corio::with_timeout(std::chrono::seconds(5), join(connections));
}

int main(int argc, char** argv) {
    auto [at, rt] = cli::parse_unix_command(argc, argv, usage);
    corio::net::unix_listen_options options;
    options.file.remove_stale = true;
    auto listener = unix_listener::bind(at, options);
    if (!listener) {
        fmt::print(stderr, "unix_echo: bind {}: {}\n", at.to_string(), listener.error().message());
        return 1;
    }
    // Caught from before the server says it listens: a signal sent as soon as it does is not fatal.
    auto signals = corio::signal_listener::open({SIGINT, SIGTERM, SIGUSR1});
    if (!signals) {
        fmt::print(stderr, "unix_echo: signals: {}\n", signals.error().message());
        return 1;
    }
    fmt::print("listening on {} ({})\n", at.to_string(), rt.backend_name());
    std::fflush(stdout);
    rt.block_on(serve(*listener, *signals, rt));
    return 0;
}
