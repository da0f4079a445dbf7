// SPDX-License-Identifier: MIT
// send_burst: one coroutine sends COUNT messages of SIZE bytes in a row, one send_all each, to a
// reader thread that takes them as fast as it can (a chat server writing a line per send, a log
// shipper). Prints messages/s and the loop thread's CPU time per send, for one backend.
//
//   send_burst [--backend NAME] [--count 200000] [--size 100] [--cpu N]
#include <corio/net/tcp_listener.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/runtime.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using corio::task;
using namespace corio::net;

struct options {
    std::string backend = "epoll";
    long count = 200000;
    long size = 100;
    int cpu = -1;  // pin the loop thread (the reader goes to the next CPU)
};

double thread_cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void pin(int cpu) {
    if (cpu < 0) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
}

// Reads until `total` bytes came, then closes.
void reader(int fd, long total, int cpu) {
    pin(cpu);
    std::vector<char> buf(256 * 1024);
    long got = 0;
    while (got < total) {
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) {
            std::fprintf(stderr, "send_burst: reader: %s\n", n == 0 ? "early end" : std::strerror(errno));
            std::exit(1);
        }
        got += n;
    }
    ::close(fd);
}

struct outcome {
    double wall = 0;
    double cpu = 0;
    bool ok = false;
};

task<outcome> run(const options& o) {
    auto listener = tcp_listener::bind(*endpoint::parse("127.0.0.1:0"));
    if (!listener) {
        co_return outcome{};
    }
    auto client = co_await tcp_stream::connect(*listener->local_endpoint());
    auto server = co_await listener->accept();
    if (!client || !server) {
        co_return outcome{};
    }
    // The reader owns a blocking duplicate of the accepted socket.
    const int fd = ::dup(server->handle().fd());
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    (void)server->close();
    std::thread r(reader, fd, o.count * o.size, o.cpu < 0 ? -1 : o.cpu + 1);
    const std::string msg(static_cast<std::size_t>(o.size), 'm');
    const auto bytes = std::span(reinterpret_cast<const std::byte*>(msg.data()), msg.size());
    const auto start = std::chrono::steady_clock::now();
    const double cpu0 = thread_cpu_seconds();
    bool ok = true;
    for (long i = 0; i < o.count; ++i) {
        auto sent = co_await client->send_all(bytes);
        if (!sent) {
            std::fprintf(stderr, "send_burst: send_all: %s\n", sent.error().message().c_str());
            ok = false;
            break;
        }
    }
    const double cpu = thread_cpu_seconds() - cpu0;
    const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
    r.join();
    co_return outcome{wall.count(), cpu, ok};
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--help") {
            std::puts("usage: send_burst [--backend NAME] [--count N] [--size BYTES] [--cpu N]");
            return 0;
        }
        if (!v || (a != "--backend" && a != "--count" && a != "--size" && a != "--cpu")) {
            std::fprintf(stderr, "usage: send_burst [--backend NAME] [--count N] [--size BYTES] [--cpu N]\n");
            return 2;
        }
        ++i;
        if (a == "--backend") {
            o.backend = v;
        } else if (a == "--count") {
            o.count = std::atol(v);
        } else if (a == "--size") {
            o.size = std::atol(v);
        } else {
            o.cpu = std::atoi(v);
        }
    }
    if (o.count <= 0 || o.size <= 0) {
        std::fprintf(stderr, "send_burst: --count and --size must be positive\n");
        return 2;
    }
    pin(o.cpu);
    corio::runtime_options ro;
    ro.backend = o.backend;
    corio::runtime rt(std::move(ro));
    const outcome out = rt.block_on(run(o));
    if (!out.ok) {
        return 1;
    }
    fmt::print("backend={} count={} size={} msgs_per_s={:.0f} cpu_us_per_send={:.3f} wall_s={:.3f}\n",
               rt.backend_name(), o.count, o.size, static_cast<double>(o.count) / out.wall,
               out.cpu * 1e6 / static_cast<double>(o.count), out.wall);
    return 0;
}
