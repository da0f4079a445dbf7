// SPDX-License-Identifier: MIT
// fairness_client: closed-loop echo load that counts completed messages per connection.
//
// Every connection keeps one message in flight for --duration seconds. Prints the minimum,
// median and maximum count per connection; exits 1 if any connection completed none (starved),
// on a byte mismatch, or on any socket error.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr const char* usage =
    "usage: fairness_client --port P [--host 127.0.0.1] [--conns 500] [--size 64] [--duration 5]\n";

struct connection {
    int fd = -1;
    long id = 0;
    long msgs = 0;          // completed round trips
    std::size_t got = 0;    // bytes of the current message echoed so far
    std::vector<char> out;  // the message in flight
};

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "fairness_client: %s\n", what.c_str());
    std::exit(1);
}

[[noreturn]] void bad_usage(const std::string& why) {
    std::fprintf(stderr, "fairness_client: %s\n%s", why.c_str(), usage);
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

// The pattern depends on the connection and the message number, so a crossed stream is caught.
void send_next(connection& c) {
    for (std::size_t i = 0; i < c.out.size(); ++i) {
        c.out[i] = char((c.id * 31 + c.msgs * 7 + long(i)) & 0xff);
    }
    c.got = 0;
    // With one message in flight the send buffer is empty, so a message of at most 4 KiB
    // (--size is capped there) always goes out whole.
    if (::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL) != ssize_t(c.out.size())) {
        fail("send on connection " + std::to_string(c.id) + ": " + std::strerror(errno));
    }
}

// Blocking connect, then non-blocking I/O; one connection at a time keeps the backlog short.
int open_connection(const sockaddr_in& addr) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    while (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EINTR) {
            fail(std::string("connect: ") + std::strerror(errno));
        }
    }
    int one = 1;
    if (fd < 0 || ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        ::fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        fail(std::string("socket: ") + std::strerror(errno));
    }
    return fd;
}

// Reads what is available; counts and restarts the message when all of it has come back.
void on_readable(connection& c, std::vector<char>& in) {
    for (;;) {
        ssize_t n = ::recv(c.fd, in.data(), c.out.size() - c.got, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        if (n == 0) {
            fail("connection " + std::to_string(c.id) + " closed by the server");
        }
        if (n < 0) {
            fail("recv on connection " + std::to_string(c.id) + ": " + std::strerror(errno));
        }
        if (std::memcmp(in.data(), c.out.data() + c.got, std::size_t(n)) != 0) {
            fail("connection " + std::to_string(c.id) + ": echoed bytes differ");
        }
        c.got += std::size_t(n);
        if (c.got == c.out.size()) {
            ++c.msgs;
            send_next(c);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    long port = -1, conns = 500, size = 64, duration = 5;
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
            conns = parse_number(a, v, 1, 100'000);
        } else if (a == "--size") {
            size = parse_number(a, v, 1, 4096);
        } else if (a == "--duration") {
            duration = parse_number(a, v, 1, 3600);
        } else if (a == "--host") {
            host = v;
        } else {
            bad_usage("unknown argument '" + std::string(a) + "'");
        }
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(std::uint16_t(port));
    if (port < 0 || ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
        bad_usage("--port is required and --host must be an IPv4 address");
    }
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);

    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::vector<connection> cs(static_cast<std::size_t>(conns));
    for (long i = 0; i < conns; ++i) {
        connection& c = cs[std::size_t(i)];
        c.fd = open_connection(addr);
        c.id = i;
        c.out.resize(std::size_t(size));
        epoll_event ev{EPOLLIN, {.ptr = &c}};
        if (ep < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
            fail(std::string("epoll_ctl: ") + std::strerror(errno));
        }
    }
    for (connection& c : cs) {
        send_next(c);
    }
    std::vector<char> in(static_cast<std::size_t>(size));
    std::vector<epoll_event> events(256);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(duration);
    while (std::chrono::steady_clock::now() < end) {
        int n = ::epoll_wait(ep, events.data(), int(events.size()), 100);
        for (int k = 0; k < n; ++k) {
            on_readable(*static_cast<connection*>(events[std::size_t(k)].data.ptr), in);
        }
    }

    std::vector<long> counts;
    long total = 0;
    for (const connection& c : cs) {
        counts.push_back(c.msgs);
        total += c.msgs;
    }
    std::sort(counts.begin(), counts.end());
    const long starved = std::count(counts.begin(), counts.end(), 0L);
    std::printf(
        "conns=%ld size=%ld duration_s=%ld msgs=%ld min=%ld median=%ld max=%ld starved=%ld\n",
        conns, size, duration, total, counts.front(), counts[counts.size() / 2], counts.back(),
        starved);
    return starved == 0 ? 0 : 1;
}
