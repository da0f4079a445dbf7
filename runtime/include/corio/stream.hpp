// SPDX-License-Identifier: MIT
// stream.hpp: what every corio byte stream offers (TCP, Unix stream sockets, pipes), so that
// readers and copies are written once for all of them.
#pragma once

#include <corio/result.hpp>

#include <concepts>
#include <cstddef>
#include <span>
#include <stop_token>
#include <utility>

namespace corio {

/// Which direction(s) a stream's shutdown() ends. On a stream with one direction (a pipe's
/// write end), shutting down its direction closes it.
enum class shutdown_how { receive, send, both };

namespace detail {
/// What `co_await a` yields, for an awaitable with a member await_resume (corio's own).
template <class A>
using await_result_t = decltype(std::declval<A&>().await_resume());
}  // namespace detail

/// A stream bytes are read from: `co_await s.recv(buf, token)` yields result<std::size_t>,
/// at least one byte, 0 at end of stream; errors as the stream's header says.
template <class S>
concept async_read_stream = requires(S& s, std::span<std::byte> buf, std::stop_token token) {
    { s.recv(buf, token) };
    requires std::same_as<detail::await_result_t<decltype(s.recv(buf, token))>,
                          result<std::size_t>>;
};

/// A stream bytes are written to: `co_await s.send(buf, token)` yields result<std::size_t>
/// (at least one byte sent), and `s.shutdown(shutdown_how::send)` ends the sending direction
/// so the reader sees end of stream (half-close).
template <class S>
concept async_write_stream = requires(S& s, std::span<const std::byte> buf, std::stop_token token) {
    { s.send(buf, token) };
    requires std::same_as<detail::await_result_t<decltype(s.send(buf, token))>,
                          result<std::size_t>>;
    { s.shutdown(shutdown_how::send) } -> std::same_as<result<void>>;
};

/// Both directions on one object (a socket).
template <class S>
concept async_stream = async_read_stream<S> && async_write_stream<S>;

}  // namespace corio
