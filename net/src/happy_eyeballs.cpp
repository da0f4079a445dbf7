// SPDX-License-Identifier: MIT
// tcp_stream::connect to a host name or a list of addresses: Happy Eyeballs (RFC 8305).
#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/net/resolve.hpp>
#include <corio/net/tcp_stream.hpp>
#include <corio/task_group.hpp>

#include <cstddef>
#include <optional>
#include <utility>

namespace corio::net {
namespace {

// RFC 8305 section 4: IPv6 first, then the families alternate, each in its given order.
std::vector<endpoint> interleave_families(const std::vector<endpoint>& peers) {
    std::vector<endpoint> v6, v4, out;
    for (const endpoint& ep : peers) {
        (ep.address().is_v6() ? v6 : v4).push_back(ep);
    }
    out.reserve(peers.size());
    for (std::size_t i = 0; i < v6.size() || i < v4.size(); ++i) {
        if (i < v6.size()) {
            out.push_back(v6[i]);
        }
        if (i < v4.size()) {
            out.push_back(v4[i]);
        }
    }
    return out;
}

// What the attempts report to the task that starts them (all on one loop).
struct race {
    std::optional<tcp_stream> winner;
    std::error_code last_error;
    std::size_t failed = 0;
    event ended;  // set by each attempt that ends
};

task<void> attempt(endpoint peer, race& r, std::stop_token token) {
    auto s = co_await tcp_stream::connect(peer, clock_type::duration::zero(), std::move(token));
    if (s) {
        if (!r.winner) {
            r.winner = std::move(*s);
        }  // else a second connection in the same turn: closed here, as a loser
    } else {
        ++r.failed;
        r.last_error = s.error();
    }
    r.ended.set();
}

task<result<void>> wait_for(event& e, std::stop_token token) {
    co_return co_await e.wait(std::move(token));
}

task<result<tcp_stream>> race_to_connect(std::vector<endpoint> peers, std::stop_token token) {
    const std::vector<endpoint> order = interleave_families(peers);
    race r;
    task_group_options options;
    options.stop_token = co_await this_task::stop_token();  // a timeout reaches the attempts
    task_group attempts(options);
    std::size_t started = 0;
    std::size_t failures_seen = 0;
    std::error_code stopped;
    attempts.spawn(attempt(order[started++], r, token));
    for (;;) {
        if (r.winner || r.failed == order.size()) {
            break;
        }
        if (r.failed > failures_seen) {
            // Each failure starts the next address at once, without waiting out the delay.
            for (; failures_seen < r.failed && started < order.size(); ++failures_seen) {
                attempts.spawn(attempt(order[started++], r, token));
            }
            failures_seen = r.failed;
            continue;
        }
        r.ended.reset();
        result<void> woke;
        if (started < order.size()) {
            woke = co_await with_timeout(tcp_stream::attempt_delay, wait_for(r.ended, token));
            if (!woke && woke.error() == std::errc::timed_out) {
                attempts.spawn(attempt(order[started++], r, token));
                continue;
            }
        } else {
            woke = co_await r.ended.wait(token);
        }
        if (!woke) {
            stopped = woke.error();  // our caller's token or ambient token
            break;
        }
    }
    attempts.cancel();
    co_await attempts.join();  // the losers' sockets are closed by now
    if (r.winner) {
        co_return std::move(*r.winner);
    }
    if (stopped) {
        co_return stopped;
    }
    co_return r.last_error;
}

task<result<tcp_stream>> resolve_and_race(std::string host, std::uint16_t port,
                                          std::stop_token token) {
    auto peers = co_await resolve(std::move(host), port, {}, token);
    if (!peers) {
        co_return peers.error();
    }
    co_return co_await race_to_connect(std::move(*peers), std::move(token));
}

}  // namespace

task<result<tcp_stream>> tcp_stream::connect(std::vector<endpoint> peers,
                                             clock_type::duration timeout, std::stop_token token) {
    if (peers.empty()) {
        co_return std::errc::invalid_argument;
    }
    if (timeout > clock_type::duration::zero()) {
        co_return co_await with_timeout(timeout,
                                        race_to_connect(std::move(peers), std::move(token)));
    }
    co_return co_await race_to_connect(std::move(peers), std::move(token));
}

task<result<tcp_stream>> tcp_stream::connect(std::string host, std::uint16_t port,
                                             clock_type::duration timeout, std::stop_token token) {
    if (timeout > clock_type::duration::zero()) {
        co_return co_await with_timeout(timeout,
                                        resolve_and_race(std::move(host), port, std::move(token)));
    }
    co_return co_await resolve_and_race(std::move(host), port, std::move(token));
}

}  // namespace corio::net
