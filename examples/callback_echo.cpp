// SPDX-License-Identifier: MIT
// callback_echo: the echo server on corio::event_loop callbacks alone, with no coroutines.
#include <corio/event_loop.hpp>
#include <corio/net/tcp_listener.hpp>

#include "cli.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

using corio::interest;
using corio::readiness;

constexpr const char* usage =
    "usage: callback_echo [--host H] [--port P] [--backend NAME] [--list-backends] [--help]\n"
    "Echoes every byte on each TCP connection using event_loop callbacks only.\n"
    "Defaults: --host 127.0.0.1 --port 7000 (H: an address or a name such as localhost);\n"
    "SIGINT/SIGTERM exit at once.\n";

class echo_server {
public:
    explicit echo_server(corio::event_loop& loop) : loop_(loop) {}

    // Readable listener: take every pending connection. Out of descriptors, give up the spare
    // one to accept and drop a connection, else a level-triggered loop reports it forever.
    // accept(2) says EMFILE even when the queue is empty: stop once the plain accept fails.
    void on_listener(int fd, readiness) {
        for (;;) {
            const int c = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c < 0 && (errno == EMFILE || errno == ENFILE) && spare_ >= 0) {
                ::close(spare_);
                const int dropped = ::accept(fd, nullptr, nullptr);
                ::close(dropped);
                spare_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (dropped < 0) {
                    return;
                }
                continue;
            }
            if (c < 0) {
                return;  // EAGAIN: drained; ECONNABORTED and the rest: try at the next event
            }
            pending_[c];  // an empty output buffer
            if (!loop_.add(c, interest::read, [this](int cfd, readiness r) { on_conn(cfd, r); })) {
                drop(c);
            }
        }
    }

private:
    // Sends what is pending, then reads and echoes until the socket would block. Reading stops
    // while output is pending (the peer must read first), and write interest is on only then.
    void on_conn(int fd, readiness) {
        std::vector<char>& out = pending_[fd];
        for (;;) {
            if (!flush(fd, out)) {
                return drop(fd);  // the peer is gone
            }
            if (!out.empty()) {
                break;  // the socket is full: wait until it is writable
            }
            const ssize_t n = ::recv(fd, buf_.data(), buf_.size(), 0);
            if (n > 0) {
                out.assign(buf_.data(), buf_.data() + n);
            } else if (n == 0 || errno != EAGAIN) {
                return drop(fd);  // end of stream or an error
            } else {
                break;  // drained: wait until it is readable
            }
        }
        if (!loop_.modify(fd, out.empty() ? interest::read : interest::write)) {
            drop(fd);
        }
    }

    // Sends from the front of `out` until it is empty or the socket is full; false on error.
    static bool flush(int fd, std::vector<char>& out) {
        while (!out.empty()) {
            const ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
            if (n < 0) {
                return errno == EAGAIN;
            }
            out.erase(out.begin(), out.begin() + n);
        }
        return true;
    }

    void drop(int fd) {
        (void)loop_.remove(fd);  // before close: the loop must not watch a reused number
        pending_.erase(fd);
        ::close(fd);
    }

    corio::event_loop& loop_;
    std::unordered_map<int, std::vector<char>> pending_;  // per connection: bytes not yet sent
    std::vector<char> buf_ = std::vector<char>(64 * 1024);
    int spare_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // given up when out of descriptors
};

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
    auto loop = corio::event_loop::open(backend);
    if (!loop) {
        a.fail(fmt::format("--backend '{}': {}", backend, loop.error().message()));
    }
    cli::raise_fd_limit();
    auto listener = corio::net::tcp_listener::bind(ep);  // bind only: accept4 happens below
    if (!listener) {
        fmt::print(stderr, "callback_echo: bind {}: {}\n", ep.to_string(),
                   listener.error().message());
        return 1;
    }
    // Blocked signals queue up for the signalfd instead of killing the process.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
    const int sigfd = ::signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0) {
        fmt::print(stderr, "callback_echo: signalfd: {}\n", std::strerror(errno));
        return 1;
    }
    echo_server server(*loop);
    auto watched = loop->add(sigfd, interest::read, [&](int fd, readiness) {
        signalfd_siginfo info{};
        if (::read(fd, &info, sizeof info) == sizeof info) {
            fmt::print(stderr, "callback_echo: {}, exiting\n", strsignal(int(info.ssi_signo)));
            loop->stop();
        }
    });
    if (watched) {
        watched = loop->add(listener->handle().fd(), interest::read,
                            [&](int fd, readiness r) { server.on_listener(fd, r); });
    }
    if (!watched) {
        fmt::print(stderr, "callback_echo: event_loop::add: {}\n", watched.error().message());
        return 1;
    }
    fmt::print("listening on {} ({})\n", listener->local_endpoint()->to_string(),
               loop->backend_name());
    std::fflush(stdout);
    if (auto r = loop->run(); !r) {
        fmt::print(stderr, "callback_echo: {}\n", r.error().message());
        return 1;
    }
    return 0;
}
