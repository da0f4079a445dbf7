// SPDX-License-Identifier: MIT
// udp_load: windowed UDP echo load for bench/udp.sh; plain POSIX, no corio.
//
// --sockets connected sockets each keep --window datagrams of --size bytes in flight: every
// reply is checked and answered by one new datagram (recvmmsg and sendmmsg, a batch per call,
// one thread on epoll). A socket that hears nothing for 100 ms counts its window as lost and
// sends a new one. After --warmup seconds, counts replies for --duration seconds and prints
// "datagrams_per_s=R replies=N lost=L mismatches=M"; exits 1 on a mismatch or socket error.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr const char* usage =
    "usage: udp_load --port P [--host 127.0.0.1] [--sockets 8] [--window 32] [--size 64]\n"
    "                [--warmup 1] [--duration 5]\n";
constexpr std::size_t batch = 64;
using clock_type = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "udp_load: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(1);
}

long number(std::string_view flag, std::string_view v, long min, long max) {
    long n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size() || n < min || n > max) {
        std::fprintf(stderr, "udp_load: %.*s wants a number from %ld to %ld\n%s",
                     static_cast<int>(flag.size()), flag.data(), min, max, usage);
        std::exit(2);
    }
    return n;
}

// A datagram carries its socket and sequence number, then bytes derived from both, so a reply
// that is cut, crossed or corrupted is caught.
void fill(std::uint8_t* p, std::size_t size, std::uint32_t sock, std::uint32_t seq) {
    std::uint32_t head[2] = {sock, seq};
    std::memcpy(p, head, std::min(size, sizeof head));
    for (std::size_t i = sizeof head; i < size; ++i) {
        p[i] = static_cast<std::uint8_t>(seq * 31 + sock * 7 + i);
    }
}
bool intact(const std::uint8_t* p, std::size_t len, std::size_t size, std::uint32_t sock) {
    if (len != size) {
        return false;
    }
    std::uint32_t head[2] = {sock, 0};
    std::memcpy(head, p, std::min(size, sizeof head));
    std::vector<std::uint8_t> want(size);
    fill(want.data(), size, sock, head[1]);
    return head[0] == sock && std::memcmp(p, want.data(), size) == 0;
}

struct flow {
    int fd = -1;
    std::uint32_t id = 0, next_seq = 0;
    long in_flight = 0;
    clock_type::time_point last_reply;
};

struct batch_space {
    mmsghdr msgs[batch]{};
    iovec iov[batch]{};
    std::vector<std::uint8_t> bytes;
    explicit batch_space(std::size_t size) : bytes(batch * std::max<std::size_t>(size, 1) + 65536) {}
};

// Sends `count` new datagrams on `f`.
void send_new(flow& f, long count, std::size_t size, batch_space& b) {
    while (count > 0) {
        const auto n = static_cast<unsigned>(std::min<long>(count, batch));
        for (unsigned i = 0; i < n; ++i) {
            std::uint8_t* p = b.bytes.data() + i * std::max<std::size_t>(size, 1);
            fill(p, size, f.id, f.next_seq++);
            b.iov[i] = {p, size};
            b.msgs[i] = {};
            b.msgs[i].msg_hdr.msg_iov = &b.iov[i];
            b.msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int sent = ::sendmmsg(f.fd, b.msgs, n, MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EAGAIN || errno == ENOBUFS) {
                return;  // counted as lost by the 100 ms rule
            }
            fail("sendmmsg");
        }
        f.in_flight += sent;
        count -= sent;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    long port = 0, sockets = 8, window = 32, size = 64, warmup = 1, duration = 5;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr, "udp_load: %s needs a value\n%s", argv[i], usage);
            return 2;
        }
        const std::string_view v = argv[++i];
        if (a == "--port") port = number(a, v, 1, 65535);
        else if (a == "--host") host = v;
        else if (a == "--sockets") sockets = number(a, v, 1, 1024);
        else if (a == "--window") window = number(a, v, 1, 4096);
        else if (a == "--size") size = number(a, v, 8, 65507);
        else if (a == "--warmup") warmup = number(a, v, 0, 3600);
        else if (a == "--duration") duration = number(a, v, 1, 3600);
        else {
            std::fprintf(stderr, "udp_load: unknown argument '%s'\n%s", argv[i - 1], usage);
            return 2;
        }
    }
    if (port == 0) {
        std::fprintf(stderr, "udp_load: --port is required\n%s", usage);
        return 2;
    }
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &server.sin_addr) != 1) {
        std::fprintf(stderr, "udp_load: --host wants an IPv4 address\n");
        return 2;
    }
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::vector<flow> flows(static_cast<std::size_t>(sockets));
    batch_space b(static_cast<std::size_t>(size));
    const auto start = clock_type::now();
    for (std::size_t i = 0; i < flows.size(); ++i) {
        flow& f = flows[i];
        f.id = static_cast<std::uint32_t>(i);
        f.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        const int rcvbuf = 4 << 20;
        ::setsockopt(f.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        if (f.fd < 0 || ::connect(f.fd, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) {
            fail("socket/connect");
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, f.fd, &ev);
        f.last_reply = start;
        send_new(f, window, static_cast<std::size_t>(size), b);
    }
    const auto measure_from = start + std::chrono::seconds(warmup);
    const auto measure_to = measure_from + std::chrono::seconds(duration);
    long replies = 0, lost = 0, mismatches = 0;
    std::vector<std::uint8_t> in(batch * 65536);
    mmsghdr rmsgs[batch]{};
    iovec riov[batch]{};
    epoll_event events[64];
    for (auto now = start; now < measure_to; now = clock_type::now()) {
        const int n = ::epoll_wait(ep, events, 64, 20);
        if (n < 0 && errno != EINTR) {
            fail("epoll_wait");
        }
        now = clock_type::now();
        for (int e = 0; e < n; ++e) {
            flow& f = flows[events[e].data.u64];
            for (;;) {
                for (std::size_t i = 0; i < batch; ++i) {
                    riov[i] = {in.data() + i * 65536, 65536};
                    rmsgs[i] = {};
                    rmsgs[i].msg_hdr.msg_iov = &riov[i];
                    rmsgs[i].msg_hdr.msg_iovlen = 1;
                }
                const int got = ::recvmmsg(f.fd, rmsgs, batch, MSG_DONTWAIT, nullptr);
                if (got < 0) {
                    if (errno == EAGAIN) break;
                    if (errno == ECONNREFUSED) { errno = ECONNREFUSED; fail("the server is not there"); }
                    fail("recvmmsg");
                }
                for (int i = 0; i < got; ++i) {
                    if (!intact(in.data() + i * 65536, rmsgs[i].msg_len, static_cast<std::size_t>(size), f.id)) {
                        ++mismatches;
                    }
                }
                if (now >= measure_from) {
                    replies += got;
                }
                f.in_flight = std::max<long>(0, f.in_flight - got);
                f.last_reply = now;
                send_new(f, window - f.in_flight, static_cast<std::size_t>(size), b);
            }
        }
        for (flow& f : flows) {
            if (now - f.last_reply > std::chrono::milliseconds(100)) {
                lost += f.in_flight;  // a window's worth vanished (drops under overload)
                f.in_flight = 0;
                f.last_reply = now;
                send_new(f, window, static_cast<std::size_t>(size), b);
            }
        }
    }
    const double rate = static_cast<double>(replies) / static_cast<double>(duration);
    std::printf("datagrams_per_s=%.0f replies=%ld lost=%ld mismatches=%ld\n", rate, replies, lost,
                mismatches);
    return mismatches == 0 && replies > 0 ? 0 : 1;
}
