// SPDX-License-Identifier: MIT
// The operations io_handle performs: each one non-blocking attempt (the readiness model), and
// for a completion backend also a description of itself and a reading of its completion.
#pragma once

#include <corio/detail/completion.hpp>
#include <corio/detail/sys.hpp>
#include <corio/result.hpp>

#include <algorithm>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <span>

namespace corio {

class io_handle;

namespace detail {
// One non-blocking attempt each; named types (not lambdas) so io_handle can declare them.
struct ready_op {
    result<bool> operator()() const noexcept { return true; }
};
// `try_first`: on a completion backend, the op is tried as a plain non-blocking call while the
// handle looks ready, and submitted only if that says EAGAIN (a send the socket can take at once
// costs one system call, not a loop turn). accept and connect are always submitted.
// Each also describes itself to a completion backend (describe) and reads its result back
// from the completion (complete), so the same call works on io_uring.
struct recv_op {
    static constexpr bool try_first = true;
    io_handle* h;
    std::span<std::byte> buf;
    result<std::size_t> operator()() const noexcept;
    completion_request describe() const noexcept;
    result<std::size_t> complete(completion& c) const noexcept { return c.bytes(); }
};
struct read_op {
    static constexpr bool try_first = true;
    int fd;
    std::span<std::byte> buf;
    result<std::size_t> operator()() const noexcept { return sys_read(fd, buf.data(), buf.size()); }
    completion_request describe() const noexcept {
        return {completion_kind::read, fd, buf.data(), buf.size()};
    }
    result<std::size_t> complete(completion& c) const noexcept { return c.bytes(); }
};
struct send_op {
    static constexpr bool try_first = true;
    int fd;
    std::span<const std::byte> buf;
    result<std::size_t> operator()() const noexcept { return sys_send(fd, buf.data(), buf.size()); }
    completion_request describe() const noexcept {
        return {completion_kind::send, fd, const_cast<std::byte*>(buf.data()), buf.size()};
    }
    result<std::size_t> complete(completion& c) const noexcept { return c.bytes(); }
};
struct writev_op {
    static constexpr bool try_first = true;
    int fd;
    std::span<const const_buffer> bufs;
    result<std::size_t> operator()() const noexcept { return sys_writev(fd, bufs); }
    completion_request describe() const noexcept {
        // At most IOV_MAX buffers, as sys_writev: a short count, never EMSGSIZE, on every backend.
        return {completion_kind::writev, fd, const_cast<const_buffer*>(bufs.data()),
                std::min(bufs.size(), max_iov())};
    }
    result<std::size_t> complete(completion& c) const noexcept { return c.bytes(); }
};
/// accept4(2): a non-blocking, close-on-exec descriptor (one submitted accept on io_uring).
struct accept_op {
    int fd;
    result<int> operator()() const noexcept { return sys_accept(fd, nullptr, nullptr); }
    completion_request describe() const noexcept { return {completion_kind::accept, fd}; }
    result<int> complete(completion& c) const noexcept;
};
/// connect(2) on a non-blocking socket: starts it, then after writability reads SO_ERROR.
struct connect_op {
    int fd;
    const void* addr;
    std::size_t addr_len;
    mutable bool started = false;
    result<void> operator()() const noexcept;
    completion_request describe() const noexcept {
        return {completion_kind::connect, fd, const_cast<void*>(addr), addr_len};
    }
    result<void> complete(completion& c) const noexcept;
};

/// Ops a completion backend can run whole (the rest wait for readiness there too).
template <class Op>
concept completion_capable = requires(const Op& op, completion& c) {
    { op.describe() } -> std::same_as<completion_request>;
    op.complete(c);
};
template <class Op>
constexpr bool tries_first() noexcept {
    if constexpr (requires { Op::try_first; }) {
        return Op::try_first;
    } else {
        return false;
    }
}
}  // namespace detail

}  // namespace corio
