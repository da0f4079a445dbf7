// SPDX-License-Identifier: MIT
// udp_echo: sends every UDP datagram back to its sender, a batch per system call
// (recv_many/send_many); SIGINT/SIGTERM exit.
#include <corio/event.hpp>
#include <corio/net/udp_socket.hpp>
#include <corio/runtime.hpp>
#include <corio/signal_listener.hpp>

#include "cli.hpp"

#include <fmt/format.h>

#include <array>
#include <csignal>
#include <cstring>
#include <span>
#include <stop_token>
#include <vector>

using corio::task;
using corio::net::datagram_slot;
using corio::net::outgoing_datagram;
using corio::net::udp_socket;

constexpr const char* usage =
    "usage: udp_echo [--host H] [--port P] [--backend NAME] [--list-backends] [--help]\n"
    "Sends every UDP datagram back to its sender. Defaults: --host 127.0.0.1 --port 7000\n"
    "(H: an address or a name such as localhost, bound at its first address; :: also serves\n"
    "IPv4). SIGINT/SIGTERM exit; SIGUSR1 prints every live task to stderr.\n";

// Datagrams moved per system call: at high rates the calls, not the copies, are the cost.
constexpr std::size_t batch = 32;
constexpr std::size_t max_datagram = 65535;  // so none is ever truncated

// Drops the replies the kernel refuses (an unreachable sender) and sends the rest.
task<bool> send_all(udp_socket& s, std::span<const outgoing_datagram> replies, std::stop_token stop) {
    while (!replies.empty()) {
        auto sent = co_await s.send_many(replies, stop);
        if (sent) {
            replies = replies.subspan(*sent);
            continue;
        }
        if (sent.error() == std::errc::operation_canceled) {
            co_return false;
        }
        fmt::print(stderr, "udp_echo: reply to {}: {}\n", replies.front().to->to_string(),
                   sent.error().message());
        replies = replies.subspan(1);
    }
    co_return true;
}

task<> echo(udp_socket& s, std::stop_token stop) {
    std::vector<std::byte> storage(batch * max_datagram);  // pages are touched only as used
    std::array<datagram_slot, batch> slots{};
    std::array<outgoing_datagram, batch> replies{};
    for (std::size_t i = 0; i < batch; ++i) {
        slots[i].buffer = std::span(storage).subspan(i * max_datagram, max_datagram);
    }
    for (;;) {
        auto n = co_await s.recv_many(slots, stop);  // waits for one, takes those queued too
        if (!n) {
            if (n.error() == std::errc::operation_canceled) {
                co_return;
            }
            fmt::print(stderr, "udp_echo: receive: {}\n", n.error().message());
            continue;
        }
        for (std::size_t i = 0; i < *n; ++i) {
            replies[i] = {slots[i].buffer.first(slots[i].info.size), slots[i].info.sender};
        }
        if (!co_await send_all(s, std::span(replies).first(*n), stop)) {
            co_return;
        }
    }
}

task<> echo_then_set(udp_socket& s, std::stop_token stop, corio::event& finished) {
    co_await echo(s, std::move(stop));
    finished.set();
}

task<> serve(udp_socket s, corio::signal_listener& signals, const corio::runtime& rt) {
    std::stop_source stop;
    corio::event finished;
    corio::spawn(echo_then_set(s, stop.get_token(), finished));
    auto sig = co_await cli::next_signal(signals, rt);
    fmt::print(stderr, "udp_echo: {}, exiting\n", sig ? strsignal(*sig) : "signal wait failed");
    stop.request_stop();  // the echo loop's pending receive or send resumes with operation_canceled
    (void)co_await finished.wait();  // it returns before its socket goes
}

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", backend;
    std::uint16_t port = 7000;
    cli::args a(argc, argv, usage);
    while (a.next()) {
        if (a.common(backend)) {
        } else if (a.is("--host")) {
            host = a.value();
        } else if (a.is("--port")) {
            port = a.number<std::uint16_t>(0, 65535);
        } else {
            a.unknown();
        }
    }
    const auto ep = a.endpoint(host, port);
    corio::runtime rt = a.runtime(backend);
    auto s = udp_socket::bind(ep);
    if (!s) {
        fmt::print(stderr, "udp_echo: bind {}: {}\n", ep.to_string(), s.error().message());
        return 1;
    }
    (void)s->set_receive_buffer_size(4 << 20);  // ride out bursts; capped by net.core.rmem_max
    auto signals = corio::signal_listener::open({SIGINT, SIGTERM, SIGUSR1});
    if (!signals) {
        fmt::print(stderr, "udp_echo: signals: {}\n", signals.error().message());
        return 1;
    }
    fmt::print("listening on {} ({})\n", s->local_endpoint()->to_string(), rt.backend_name());
    std::fflush(stdout);
    rt.block_on(serve(std::move(*s), *signals, rt));
    return 0;
}
