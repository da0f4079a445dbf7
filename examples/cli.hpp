// SPDX-License-Identifier: MIT
// The examples' shared command-line handling: --help exits 0, a bad argument exits 2.
#pragma once

#include <corio/backend.hpp>
#include <corio/net/address.hpp>
#include <corio/net/resolve.hpp>
#include <corio/net/tcp_listener.hpp>
#include <corio/runtime.hpp>
#include <corio/signal_listener.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <sys/resource.h>

namespace cli {

/// Walks argv; each example asks for the flags it knows and reports the rest as errors.
class args {
public:
    args(int argc, char** argv, std::string usage) : argc_(argc), argv_(argv), usage_(std::move(usage)) {}

    bool next() {
        ++i_;
        return i_ < argc_;
    }
    bool is(std::string_view flag) const { return flag == argv_[i_]; }
    /// The current argument itself (a positional one, such as a file name).
    std::string_view current() const { return argv_[i_]; }
    std::string_view value() {
        if (i_ + 1 >= argc_) {
            fail(fmt::format("{} needs a value", argv_[i_]));
        }
        return argv_[++i_];
    }
    template <class Int>
    Int number(Int min, Int max) {
        const std::string_view flag = argv_[i_];
        const std::string_view v = value();
        Int n{};
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc{} || end != v.data() + v.size() || n < min || n > max) {
            fail(fmt::format("{} wants a number from {} to {}, not '{}'", flag, min, max, v));
        }
        return n;
    }
    /// Handles the flags every example shares; true if the current argument was one of them.
    bool common(std::string& backend) {
        if (is("--help") || is("-h")) {
            fmt::print("{}", usage_);
            std::exit(0);
        }
        if (is("--list-backends")) {
            for (const auto& b : corio::available_backends()) {
                fmt::print("{}\n", b);
            }
            std::exit(0);
        }
        if (is("--backend")) {
            backend = std::string(value());
            const auto names = corio::available_backends();
            if (std::find(names.begin(), names.end(), backend) == names.end()) {
                fail(fmt::format("unknown backend '{}'; available: {}", backend,
                                 fmt::join(names, ", ")));
            }
            return true;
        }
        return false;
    }
    /// The endpoints for --host/--port: a numeric host as it is, a name (e.g. localhost)
    /// resolved with corio::net::resolve, in the resolver's order of preference. Usage and
    /// exit 2 when the name does not resolve (the resolver's reason is printed).
    std::vector<corio::net::endpoint> endpoints(const std::string& host, std::uint16_t port) const {
        if (auto ep = corio::net::endpoint::from(host, port)) {
            return {*ep};  // numeric: no runtime needed
        }
        // A runtime only for the lookup: some examples resolve before theirs exists, and
        // callback_echo has none.
        auto rt = corio::runtime::create();
        if (!rt) {
            fail(fmt::format("--host: cannot resolve '{}': {}", host, rt.error().message()));
        }
        auto found = rt->block_on(corio::net::resolve(host, port));
        if (!found) {
            fail(fmt::format("--host: '{}' does not resolve: {}", host, found.error().message()));
        }
        return std::move(*found);
    }
    /// The first of endpoints(host, port): where a server binds.
    corio::net::endpoint endpoint(const std::string& host, std::uint16_t port) const {
        return endpoints(host, port).front();
    }
    /// A runtime of `threads` loops on the --backend chosen ("" = default); usage and exit 2
    /// when it cannot open.
    corio::runtime runtime(const std::string& backend, unsigned threads = 1) const {
        corio::runtime_options options;
        options.backend = backend;
        options.threads = threads;
        auto rt = corio::runtime::create(std::move(options));
        if (!rt) {
            // Say where an empty --backend's name came from: the environment, or the default.
            const std::string name = backend.empty() ? corio::default_backend_name() : backend;
            const char* from = !backend.empty()                   ? "--backend"
                               : std::getenv("CORIO_BACKEND") != nullptr ? "CORIO_BACKEND"
                                                                   : "default backend";
            fail(fmt::format("{} '{}': {}; available: {}", from, name, rt.error().message(),
                             fmt::join(corio::available_backends(), ", ")));
        }
        return std::move(*rt);
    }
    /// Handles --host H and --port P (0 to 65535); true if the current argument was one of them.
    bool address(std::string& host, std::uint16_t& port) {
        if (is("--host")) {
            host = value();
        } else if (is("--port")) {
            port = number<std::uint16_t>(0, 65535);
        } else {
            return false;
        }
        return true;
    }
    [[noreturn]] void unknown() { fail(fmt::format("unknown argument '{}'", argv_[i_])); }
    [[noreturn]] void fail(const std::string& why) const {
        fmt::print(stderr, "{}: {}\n{}", argv_[0], why, usage_);
        std::exit(2);
    }

private:
    int argc_;
    char** argv_;
    std::string usage_;
    int i_ = 0;
};

/// Raises the soft descriptor limit to the hard one, so a server can hold many connections.
inline void raise_fd_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &lim);
    }
}

/// The servers' listeners: one per loop (SO_REUSEPORT) for threads > 1. One listener alone keeps
/// SO_REUSEPORT off, so a second server started on the port fails to bind instead of sharing it.
inline corio::result<std::vector<corio::net::tcp_listener>> bind_listeners(
    const corio::net::endpoint& ep, unsigned threads) {
    if (threads > 1) {
        return corio::net::tcp_listener::bind_per_thread(ep, threads);
    }
    auto one = corio::net::tcp_listener::bind(ep);
    if (!one) {
        return one.error();
    }
    std::vector<corio::net::tcp_listener> listeners;
    listeners.push_back(std::move(*one));
    return listeners;
}

/// SIGINT, SIGTERM and SIGUSR1, caught from now on: open it before the server says it listens,
/// so that a signal sent as soon as it does is not fatal. Says why and exits 1 if it cannot.
inline corio::signal_listener catch_signals(std::string_view program) {
    auto signals = corio::signal_listener::open({SIGINT, SIGTERM, SIGUSR1});
    if (!signals) {
        fmt::print(stderr, "{}: signals: {}\n", program, signals.error().message());
        std::exit(1);
    }
    return std::move(*signals);
}

/// The next signal other than SIGUSR1; each SIGUSR1 meanwhile prints every live task to stderr
/// (where it was spawned, what it waits on).
inline corio::task<corio::result<int>> next_signal(corio::signal_listener& signals,
                                                   const corio::runtime& rt) {
    for (;;) {
        auto sig = co_await signals.wait();
        if (!sig || *sig != SIGUSR1) {
            co_return sig;
        }
        fmt::print(stderr, "{}", rt.dump_tasks().to_string());
    }
}

}  // namespace cli
