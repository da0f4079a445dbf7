// SPDX-License-Identifier: MIT
// idle_clients: opens N echo connections, checks one 64-byte round trip on each, then holds them.
//
// Connections are opened one at a time with a blocking connect followed by the round trip, so the
// server has accepted each one before the next arrives and its listen backlog never overflows.
// After `ready N` on stdout it waits until stdin closes or SIGTERM/SIGINT, then exits 0.
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr std::size_t message_size = 64;
constexpr int io_timeout_s = 10;  // a server that never answers fails the run instead of hanging

constexpr const char* usage = "usage: idle_clients --port P [--host 127.0.0.1] --conns N\n";

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "idle_clients: %s\n", what.c_str());
    std::exit(1);
}

[[noreturn]] void bad_usage(const std::string& why) {
    std::fprintf(stderr, "idle_clients: %s\n%s", why.c_str(), usage);
    std::exit(2);
}

long parse_number(std::string_view flag, std::string_view v, long min, long max) {
    long n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size() || n < min || n > max) {
        bad_usage(std::string(flag) + " wants a number from " + std::to_string(min) + " to " +
                  std::to_string(max));
    }
    return n;
}

void raise_fd_limit(long conns) {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        fail(std::string("getrlimit: ") + std::strerror(errno));
    }
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur < rlim_t(conns) + 16) {
        fail("RLIMIT_NOFILE hard limit " + std::to_string(lim.rlim_max) + " is too low for " +
             std::to_string(conns) + " connections");
    }
}

// Connects, sends 64 bytes that differ per connection and checks that the same bytes come back.
int open_and_echo(const sockaddr_in& addr, long index) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(std::string("socket: ") + std::strerror(errno));
    }
    timeval tv{io_timeout_s, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EINTR) {
            fail("connect #" + std::to_string(index) + ": " + std::strerror(errno));
        }
    }
    char out[message_size], in[message_size];
    for (std::size_t i = 0; i < message_size; ++i) {
        out[i] = char((index * 7 + i) & 0xff);
    }
    if (::send(fd, out, sizeof out, MSG_NOSIGNAL) != ssize_t(sizeof out)) {
        fail("send #" + std::to_string(index) + ": " + std::strerror(errno));
    }
    std::size_t got = 0;
    while (got < sizeof in) {
        ssize_t n = ::recv(fd, in + got, sizeof in - got, 0);
        if (n == 0) {
            fail("connection #" + std::to_string(index) + " closed by the server");
        }
        if (n < 0 && errno != EINTR) {
            fail("recv #" + std::to_string(index) + ": " + std::strerror(errno));
        }
        got += n > 0 ? std::size_t(n) : 0;
    }
    if (std::memcmp(in, out, sizeof out) != 0) {
        fail("connection #" + std::to_string(index) + ": echoed bytes differ");
    }
    return fd;
}

// Blocks until stdin reaches EOF (or errors) or SIGTERM/SIGINT arrives, without a signal race:
// the signals stay blocked except inside ppoll.
void hold_until_stdin_closes_or_signal() {
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigprocmask(SIG_BLOCK, &stop, &old);
    for (;;) {
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (::ppoll(&p, 1, nullptr, &old) < 0) {
            return;  // EINTR: one of our signals
        }
        char sink[256];
        if (::read(STDIN_FILENO, sink, sizeof sink) <= 0) {
            return;  // EOF, or stdin is unusable
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    long port = -1, conns = -1;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            std::printf("%s", usage);
            return 0;
        }
        if (i + 1 >= argc) {
            bad_usage(std::string(a) + ": unknown argument or missing value");
        }
        std::string_view v = argv[++i];
        if (a == "--port") {
            port = parse_number(a, v, 1, 65535);
        } else if (a == "--conns") {
            conns = parse_number(a, v, 1, 1'000'000);
        } else if (a == "--host") {
            host = v;
        } else {
            bad_usage("unknown argument '" + std::string(a) + "'");
        }
    }
    if (port < 0 || conns < 0) {
        bad_usage("--port and --conns are required");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(std::uint16_t(port));
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
        bad_usage("--host: '" + host + "' is not an IPv4 address");
    }
    raise_fd_limit(conns);

    std::vector<int> fds;
    fds.reserve(std::size_t(conns));
    for (long i = 0; i < conns; ++i) {
        fds.push_back(open_and_echo(addr, i));
    }
    std::printf("ready %ld\n", conns);
    std::fflush(stdout);
    hold_until_stdin_closes_or_signal();
    for (int fd : fds) {
        ::close(fd);
    }
    return 0;
}
