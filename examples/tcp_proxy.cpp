// SPDX-License-Identifier: MIT
// tcp_proxy: forwards each accepted connection to --to HOST:PORT with copy_bidirectional, passing
// half-closes on and closing connections idle for --idle-timeout; SIGINT/SIGTERM drain and exit.
#include <corio/cancel.hpp>
#include <corio/copy.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/runtime.hpp>
#include <corio/signal_listener.hpp>
#include <corio/task_group.hpp>

#include "cli.hpp"

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

using namespace std::chrono_literals;
using corio::task;
using corio::net::tcp_listener;
using corio::net::tcp_stream;

constexpr const char* usage =
    "usage: tcp_proxy --to HOST:PORT [--host H] [--port P] [--idle-timeout S]\n"
    "                 [--drain-seconds S] [--backend NAME] [--list-backends] [--help]\n"
    "Forwards every TCP connection to HOST:PORT (a name such as localhost, an IPv4 address,\n"
    "or [IPv6]), resolved for each connection and tried with Happy Eyeballs. One side's\n"
    "half-close is passed on while the other direction keeps flowing. Defaults: --host\n"
    "127.0.0.1 --port 7001; connections with no byte either way for --idle-timeout S\n"
    "(default 300; 0: never) are closed. On SIGINT/SIGTERM it stops accepting and gives open\n"
    "connections --drain-seconds S (default 5).\n";

struct target {
    std::string host;
    std::uint16_t port = 0;
};

// "host:port", "1.2.3.4:port" or "[::1]:port"; nullopt when malformed.
std::optional<target> parse_target(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        return std::nullopt;
    }
    std::string_view host = text.substr(0, colon);
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') {
            return std::nullopt;
        }
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
        return std::nullopt;  // an IPv6 address needs its brackets
    }
    const std::string_view port = text.substr(colon + 1);
    unsigned n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc{} || end != port.data() + port.size() || n == 0 || n > 65535) {
        return std::nullopt;
    }
    return target{std::string(host), static_cast<std::uint16_t>(n)};
}

// Resets, vanished peers and idle connections are routine; anything else is worth a line.
void report(std::string_view what, std::error_code e) {
    if (e != std::errc::connection_reset && e != std::errc::broken_pipe &&
        e != std::errc::timed_out && e != std::errc::operation_canceled) {
        fmt::print(stderr, "tcp_proxy: {}: {}\n", what, e.message());
    }
}

task<> relay(tcp_stream client, const target& to, corio::copy_options options) {
    auto upstream = co_await tcp_stream::connect(to.host, to.port, 10s);
    if (!upstream) {
        report(fmt::format("connect to {}:{}", to.host, to.port), upstream.error());
        co_return;  // closing `client` tells it
    }
    (void)client.set_nodelay(true);
    (void)upstream->set_nodelay(true);
    if (auto moved = co_await corio::copy_bidirectional(client, *upstream, options); !moved) {
        report("closing a connection", moved.error());
    }
}

task<> join(corio::task_group& group) { co_await group.join(); }

// The first signal drains; a second one, while draining, ends the proxy at once.
task<> stop_on_signal(corio::signal_listener& signals, std::stop_source& stop,
                      const corio::runtime& rt) {
    auto sig = co_await cli::next_signal(signals, rt);
    fmt::print(stderr, "tcp_proxy: {}, draining\n", sig ? strsignal(*sig) : "signal wait failed");
    stop.request_stop();  // the pending accept() resumes with operation_canceled
    sig = co_await cli::next_signal(signals, rt);
    if (sig) {
        fmt::print(stderr, "tcp_proxy: {} again, exiting now\n", strsignal(*sig));
        std::_Exit(128 + *sig);
    }
}

task<> serve(tcp_listener listener, const target& to, corio::copy_options options,
             std::chrono::seconds drain, corio::signal_listener& signals, const corio::runtime& rt) {
    std::stop_source stop;
    corio::spawn(stop_on_signal(signals, stop, rt));
    corio::task_group connections;
    for (;;) {
        auto client = co_await listener.accept(stop.get_token());
        if (!client) {
            if (client.error() == std::errc::operation_canceled) {
                break;
            }
            fmt::print(stderr, "tcp_proxy: accept: {}\n", client.error().message());
            continue;
        }
        connections.spawn(relay(std::move(*client), to, options));
    }
    (void)listener.close();
    // At the deadline the group's children are cancelled; join() waits until they ended.
    (void)co_await corio::with_timeout(drain, join(connections));
}

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", backend;
    std::uint16_t port = 7001;
    std::optional<target> to;
    int idle = 300, drain = 5;
    cli::args a(argc, argv, usage);
    while (a.next()) {
        if (a.common(backend)) {
        } else if (a.is("--host")) {
            host = a.value();
        } else if (a.is("--port")) {
            port = a.number<std::uint16_t>(0, 65535);
        } else if (a.is("--to")) {
            const std::string_view text = a.value();
            to = parse_target(text);
            if (!to) {
                a.fail(fmt::format("--to wants HOST:PORT (IPv6 as [ADDR]:PORT), not '{}'", text));
            }
        } else if (a.is("--idle-timeout")) {
            idle = a.number<int>(0, 24 * 3600);
        } else if (a.is("--drain-seconds")) {
            drain = a.number<int>(0, 3600);
        } else {
            a.unknown();
        }
    }
    if (!to) {
        a.fail("--to HOST:PORT is required");
    }
    (void)a.endpoints(to->host, to->port);  // a name that does not resolve now is a usage error
    const auto ep = a.endpoint(host, port);
    cli::raise_fd_limit();
    corio::runtime rt = a.runtime(backend);
    auto listener = tcp_listener::bind(ep);
    if (!listener) {
        fmt::print(stderr, "tcp_proxy: bind {}: {}\n", ep.to_string(), listener.error().message());
        return 1;
    }
    // Caught from before the proxy says it listens: a signal sent as soon as it does is not fatal.
    auto signals = corio::signal_listener::open({SIGINT, SIGTERM, SIGUSR1});
    if (!signals) {
        fmt::print(stderr, "tcp_proxy: signals: {}\n", signals.error().message());
        return 1;
    }
    fmt::print("listening on {} ({})\n", listener->local_endpoint()->to_string(), rt.backend_name());
    std::fflush(stdout);
    corio::copy_options options;
    options.idle_timeout = std::chrono::seconds(idle);  // 0: never
    rt.block_on(serve(std::move(*listener), *to, options, std::chrono::seconds(drain), *signals, rt));
    return 0;
}
