// SPDX-License-Identifier: MIT
// chat_server: every line a client sends goes to every other client. Each client has a bounded
// outbox (a corio::channel) that one task drains onto its socket; a client whose outbox is full
// (it stopped reading) is dropped at once, so it never slows the others. SIGINT/SIGTERM exit 0.
#include <corio/buffered_reader.hpp>
#include <corio/channel.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/runtime.hpp>
#include <corio/signal_listener.hpp>
#include <corio/task_group.hpp>
#include <corio/when_any.hpp>

#include "cli.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

using corio::task;
using corio::net::tcp_listener;
using corio::net::tcp_stream;

constexpr const char* usage =
    "usage: chat_server [--host H] [--port P] [--backlog N] [--max-line BYTES] [--backend NAME]\n"
    "                   [--list-backends] [--help]\n"
    "A line-based chat: every line a client sends reaches every other client as 'ID: line'.\n"
    "Announcements start with '* ' (welcome, joined, left, dropped).\n"
    "Defaults: --host 127.0.0.1 --port 7001 (H: an address or a name such as localhost).\n"
    "--backlog N: lines queued for a client that is not reading before it is dropped (1024).\n"
    "--max-line BYTES: longer lines are discarded and their sender told so (4096).\n"
    "SIGINT/SIGTERM close every connection and exit 0. SIGUSR1 prints every live task.\n";

using message = std::shared_ptr<const std::string>;

// One connected client as the room sees it: its outbox and the switch that drops it.
struct client {
    client(std::uint64_t id, std::size_t backlog) : id(id), outbox(backlog) {}
    const std::uint64_t id;
    corio::channel<message> outbox;
    std::stop_source drop;  // stops both of its tasks: its connection closes
};

// Everyone connected. One loop runs the whole server, so no lock is needed.
class room {
public:
    explicit room(std::size_t backlog) : backlog_(backlog) {}

    std::shared_ptr<client> join() {
        auto c = std::make_shared<client>(++last_id_, backlog_);
        (void)c->outbox.try_send(std::make_shared<const std::string>(
            fmt::format("* welcome, you are {}; {} other(s) online\n", c->id, clients_.size())));
        clients_.emplace(c->id, c);
        broadcast(c->id, fmt::format("* {} joined ({} online)\n", c->id, clients_.size()));
        return c;
    }
    // The client's connection ended (or it was dropped, which announced it already).
    void leave(const client& c) {
        if (clients_.erase(c.id) > 0) {
            broadcast(c.id, fmt::format("* {} left ({} online)\n", c.id, clients_.size()));
        }
    }
    // Queues `text` for everyone but `from` without waiting: a full outbox drops its owner.
    void broadcast(std::uint64_t from, std::string text) {
        const message m = std::make_shared<const std::string>(std::move(text));
        std::vector<std::shared_ptr<client>> full;
        for (const auto& [id, c] : clients_) {
            if (id != from && !c->outbox.try_send(m)) {
                full.push_back(c);
            }
        }
        for (const auto& c : full) {
            if (clients_.erase(c->id) == 0) {
                continue;  // already dropped by an announcement below
            }
            c->drop.request_stop();
            broadcast(c->id, fmt::format("* {} dropped: not reading ({} lines queued)\n", c->id,
                                         backlog_));
        }
    }

private:
    std::size_t backlog_;
    std::uint64_t last_id_ = 0;
    std::map<std::uint64_t, std::shared_ptr<client>> clients_;
};

// A peer that resets or vanishes is routine; anything else is worth a line.
void report(std::uint64_t id, std::error_code e) {
    if (e && e != std::errc::connection_reset && e != std::errc::broken_pipe &&
        e != std::errc::operation_canceled && e != corio::errc::closed) {
        fmt::print(stderr, "chat_server: client {}: {}\n", id, e.message());
    }
}

// Reads the client's lines and hands each to the room, until end of stream or an error.
task<> read_lines(room& r, client& me, corio::buffered_reader<tcp_stream&>& lines) {
    const std::stop_token stop = me.drop.get_token();
    for (;;) {
        auto line = co_await lines.read_line(stop);
        if (line && *line) {
            r.broadcast(me.id, fmt::format("{}: {}\n", me.id, **line));
            // Let the writers move it to their sockets before the next line (a burst of lines
            // already buffered would otherwise fill every outbox before any writer ran): only a
            // client whose socket takes no more falls behind.
            co_await corio::yield();
            continue;
        }
        if (line || line.error() != corio::errc::line_too_long) {
            report(me.id, line.error());
            co_return;  // end of stream or an error
        }
        // Too long: tell the sender (if its outbox has room), and skip to the next line.
        (void)me.outbox.try_send(std::make_shared<const std::string>(fmt::format(
            "* your line was longer than {} bytes and was dropped\n", lines.max_line())));
        if (auto skipped = co_await lines.skip_until('\n', stop); !skipped) {
            report(me.id, skipped.error());
            co_return;
        }
    }
}

// Sends what the room queued for the client, in order.
task<> write_lines(client& me, tcp_stream& s) {
    const std::stop_token stop = me.drop.get_token();
    for (;;) {
        auto m = co_await me.outbox.recv(stop);
        if (!m) {
            co_return;
        }
        const std::string& text = **m;
        auto sent = co_await s.send_all(std::as_bytes(std::span(text.data(), text.size())), stop);
        if (!sent) {
            report(me.id, sent.error());
            co_return;
        }
    }
}

// One connection: its reader and its writer run until either ends (the other is cancelled).
task<> session(room& r, tcp_stream s, std::size_t max_line) {
    const std::shared_ptr<client> me = r.join();
    corio::buffered_reader lines(s, max_line);  // refers to `s`, which write_lines sends on
    (void)co_await corio::when_any(read_lines(r, *me, lines), write_lines(*me, s));
    r.leave(*me);
}

// The first SIGINT/SIGTERM stops accepting, which ends serve().
task<> stop_on_signal(corio::signal_listener& signals, std::stop_source& stop,
                      const corio::runtime& rt) {
    auto sig = co_await cli::next_signal(signals, rt);
    fmt::print(stderr, "chat_server: {}, closing\n", sig ? strsignal(*sig) : "signal wait failed");
    stop.request_stop();
}

task<> serve(const corio::runtime& rt, corio::signal_listener& signals, tcp_listener listener,
             std::size_t backlog, std::size_t max_line) {
    std::stop_source stop;
    corio::task_group group;
    group.spawn(stop_on_signal(signals, stop, rt));
    room everyone(backlog);
    for (;;) {
        auto s = co_await listener.accept(stop.get_token());
        if (!s) {
            if (s.error() == std::errc::operation_canceled) {
                break;
            }
            fmt::print(stderr, "chat_server: accept: {}\n", s.error().message());
            continue;
        }
        group.spawn(session(everyone, std::move(*s), max_line));
    }
    // Every session's waits resume with operation_canceled: their connections close.
    group.cancel();
    co_await group.join();
}

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", backend;
    std::uint16_t port = 7001;
    std::size_t backlog = 1024, max_line = 4096;
    cli::args a(argc, argv, usage);
    while (a.next()) {
        if (a.common(backend) || a.address(host, port)) {
        } else if (a.is("--backlog")) {
            backlog = a.number<std::size_t>(1, 1 << 20);
        } else if (a.is("--max-line")) {
            max_line = a.number<std::size_t>(1, 1 << 24);
        } else {
            a.unknown();
        }
    }
    const auto ep = a.endpoint(host, port);
    cli::raise_fd_limit();
    corio::runtime rt = a.runtime(backend);
    auto listener = tcp_listener::bind(ep);
    if (!listener) {
        fmt::print(stderr, "chat_server: bind {}: {}\n", ep.to_string(), listener.error().message());
        return 1;
    }
    auto signals = cli::catch_signals("chat_server");
    fmt::print("listening on {} ({})\n", listener->local_endpoint()->to_string(), rt.backend_name());
    std::fflush(stdout);
    rt.block_on(serve(rt, signals, std::move(*listener), backlog, max_line));
    return 0;
}
