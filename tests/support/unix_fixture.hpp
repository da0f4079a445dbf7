// SPDX-License-Identifier: MIT
// Fixtures for the Unix socket tests: a private directory for socket files, unique abstract
// names, listeners and connected pairs that fail the test when they cannot be made.
#pragma once

#include <corio/net/unix_address.hpp>
#include <corio/net/unix_listener.hpp>
#include <corio/net/unix_stream.hpp>
#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include "support/net_loopback.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

namespace corio_test {

/// A fresh directory under /tmp (short, so socket paths stay far below the 107-byte limit),
/// removed with what is in it when this goes away.
class socket_dir {
public:
    socket_dir() {
        char dir[] = "/tmp/corio-unix-XXXXXX";
        REQUIRE(::mkdtemp(dir) != nullptr);
        root_ = dir;
    }
    socket_dir(const socket_dir&) = delete;
    socket_dir& operator=(const socket_dir&) = delete;
    ~socket_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(root_, ignored);
    }

    std::string path(std::string_view name) const { return root_ + "/" + std::string(name); }
    /// The address of `name` in this directory; the test fails if it is not a valid one.
    corio::net::unix_address address(std::string_view name) const {
        auto a = corio::net::unix_address::from_path(path(name));
        REQUIRE(a);
        return *a;
    }

private:
    std::string root_;
};

/// Whether `path` exists and is a socket file.
inline bool is_socket_file(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

/// An abstract name no other test (or concurrent run) uses.
inline corio::net::unix_address unique_abstract() {
    static std::atomic<int> next{0};
    auto a = corio::net::unix_address::from_abstract("corio-test-" + std::to_string(::getpid()) +
                                                     "-" + std::to_string(next++));
    REQUIRE(a);
    return *a;
}

/// A listener on `address`; the test fails if bind does.
inline corio::net::unix_listener listen_unix(const corio::net::unix_address& address,
                                             corio::net::unix_listen_options options = {}) {
    auto l = corio::net::unix_listener::bind(address, options);
    INFO("bind " << address.to_string() << ": " << l.error().message());
    REQUIRE(l);
    return std::move(*l);
}

/// Both ends of one connection through a listener.
struct unix_pair {
    corio::net::unix_stream client;
    corio::net::unix_stream server;
};

/// Connects to `listener` and accepts; the test fails if either step does.
inline corio::task<unix_pair> connect_unix_pair(corio::net::unix_listener& listener) {
    auto at = listener.local_address();
    require_ok(at, "local_address");
    auto client = co_await corio::net::unix_stream::connect(*at);
    require_ok(client, "connect");
    auto server = co_await listener.accept();
    require_ok(server, "accept");
    co_return unix_pair{std::move(*client), std::move(*server)};
}

/// A token that `stop` stops as soon as the calling task parks (a task spawned now asks for
/// it, and runs only once the caller waits): for "a cancelled wait consumed nothing" tests.
inline std::stop_token stopped_once_parked(std::stop_source& stop) {
    corio::spawn([](std::stop_source& s) -> corio::task<> {
        s.request_stop();
        co_return;
    }(stop));
    return stop.get_token();
}

/// socketpair() as two streams; the test fails if it cannot be made.
inline std::pair<corio::net::unix_stream, corio::net::unix_stream> stream_socketpair() {
    auto p = corio::net::unix_stream::pair();
    REQUIRE(p);
    return std::move(*p);
}

}  // namespace corio_test
