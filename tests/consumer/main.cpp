// SPDX-License-Identifier: MIT
// A user's program against an installed corio: the README's echo server, plus a client that
// checks one round trip over loopback. Exit 0 only when the echoed bytes match.
#include <corio/net/tcp_listener.hpp>
#include <corio/runtime.hpp>

#include <cstdio>
#include <cstring>
#include <string_view>

using corio::task;
using namespace corio::net;

task<> echo(tcp_stream s) {
    for (;;) {
        auto data = co_await s.recv();
        if (!data || data->empty()) co_return;
        if (!co_await s.send_all(data->bytes())) co_return;
    }
}

task<> serve(tcp_listener& listener) {
    for (;;) {
        auto s = co_await listener.accept();
        if (!s) co_return;  // closed when the client is done
        corio::spawn(echo(std::move(*s)));
    }
}

task<bool> round_trip(endpoint server, tcp_listener& listener) {
    constexpr std::string_view message = "hello from an installed corio";
    auto c = co_await tcp_stream::connect(server);
    if (!c) {
        std::fprintf(stderr, "consumer: connect: %s\n", c.error().message().c_str());
        co_return false;
    }
    auto sent = co_await c->send_all(std::as_bytes(std::span(message)));
    std::byte got[message.size()];
    std::size_t have = 0;
    while (sent && have < sizeof got) {
        auto n = co_await c->recv(std::span(got).subspan(have));
        if (!n || *n == 0) break;
        have += *n;
    }
    (void)listener.close();
    co_return have == sizeof got && std::memcmp(got, message.data(), sizeof got) == 0;
}

task<bool> run(tcp_listener& listener, endpoint server) {
    corio::spawn(serve(listener));
    co_return co_await round_trip(server, listener);
}

int main() {
    auto listener = tcp_listener::bind(*endpoint::parse("127.0.0.1:0"));
    if (!listener) {
        std::fprintf(stderr, "consumer: bind: %s\n", listener.error().message().c_str());
        return 1;
    }
    const endpoint server = *listener->local_endpoint();
    corio::runtime rt;
    const bool ok = rt.block_on(run(*listener, server));
    std::printf("consumer: echo round trip over %s on %s: %s\n", server.to_string().c_str(),
                std::string(rt.backend_name()).c_str(), ok ? "ok" : "MISMATCH");
    return ok ? 0 : 1;
}
