// SPDX-License-Identifier: MIT
// unix_client: sends its standard input to a Unix stream socket, shuts down its sending side,
// and writes everything the other end sends to standard output (socat - UNIX-CONNECT:PATH).
#include <corio/net/unix_stream.hpp>
#include <corio/runtime.hpp>
#include <corio/when_all.hpp>

#include "cli.hpp"
#include "unix_cli.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

#include <unistd.h>

using corio::task;
using corio::net::unix_address;
using corio::net::unix_stream;

constexpr const char* usage =
    "usage: unix_client --path PATH [--backend NAME] [--list-backends] [--help]\n"
    "Connects to the Unix stream socket at PATH ('@name': an abstract socket), sends all of\n"
    "standard input, shuts down sending, and copies what comes back to standard output until\n"
    "the other end closes. Exits 1 on a connection error.\n";

// Sending and receiving run at once: an echo of a large input needs both, or each side's
// buffers fill and neither moves.
task<corio::result<void>> send_then_shutdown(unix_stream& s, const std::vector<std::byte>& in) {
    if (auto sent = co_await s.send_all(in); !sent) {
        co_return sent;
    }
    co_return s.shutdown(corio::shutdown_how::send);
}

task<corio::result<void>> receive_to_stdout(unix_stream& s) {
    for (;;) {
        auto data = co_await s.recv();
        if (!data) {
            co_return data.error();
        }
        if (data->empty()) {
            co_return corio::result<void>{};
        }
        std::fwrite(data->data(), 1, data->size(), stdout);
    }
}

task<int> run(unix_address at, const std::vector<std::byte>& in) {
    auto s = co_await unix_stream::connect(at);
    if (!s) {
        fmt::print(stderr, "unix_client: connect {}: {}\n", at.to_string(), s.error().message());
        co_return 1;
    }
    auto [sent, received] = co_await corio::when_all(send_then_shutdown(*s, in), receive_to_stdout(*s));
    for (const auto& r : {sent, received}) {
        if (!r) {
            fmt::print(stderr, "unix_client: {}\n", r.error().message());
            co_return 1;
        }
    }
    co_return 0;
}

int main(int argc, char** argv) {
    auto [at, rt] = cli::parse_unix_command(argc, argv, usage);
    // Standard input may be a file, which no reactor watches: read it whole first.
    std::vector<std::byte> in;
    std::byte chunk[65536];
    for (ssize_t n; (n = ::read(STDIN_FILENO, chunk, sizeof chunk)) > 0;) {
        in.insert(in.end(), chunk, chunk + n);
    }
    const int status = rt.block_on(run(at, in));
    std::fflush(stdout);
    return status;
}
