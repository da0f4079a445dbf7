// SPDX-License-Identifier: MIT
// io_handle: a non-blocking descriptor whose operations suspend on EAGAIN until it is ready.
#pragma once

#include <corio/detail/scheduler.hpp>
#include <corio/detail/sys.hpp>
#include <corio/detail/waiter.hpp>
#include <corio/error.hpp>
#include <corio/interest.hpp>
#include <corio/result.hpp>
#include <corio/token.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stop_token>
#include <type_traits>

namespace corio {

class io_handle;

namespace detail {
/// A coroutine parked on an io_handle until one direction is ready. The reactor callback
/// calls `attempt` to retry the system call, so a spurious wake-up never resumes anyone.
struct io_wait : waiter {
    bool (*attempt)(io_wait&) noexcept = nullptr;  // true once the operation finished
    io_handle* owner = nullptr;
    interest dir = interest::none;
};
}  // namespace detail

template <class Op>
class io_operation;

namespace detail {
// One non-blocking attempt each; named types (not lambdas) so io_handle can declare them.
struct ready_op {
    result<bool> operator()() const noexcept { return true; }
};
struct recv_op {
    io_handle* h;
    std::span<std::byte> buf;
    result<std::size_t> operator()() const noexcept;
};
struct read_op {
    int fd;
    std::span<std::byte> buf;
    result<std::size_t> operator()() const noexcept { return sys_read(fd, buf.data(), buf.size()); }
};
struct send_op {
    int fd;
    std::span<const std::byte> buf;
    result<std::size_t> operator()() const noexcept { return sys_send(fd, buf.data(), buf.size()); }
};
struct writev_op {
    int fd;
    std::span<const const_buffer> bufs;
    result<std::size_t> operator()() const noexcept { return sys_writev(fd, bufs); }
};
}  // namespace detail

/// Owns one non-blocking descriptor and parks at most one reader and one writer on it.
/// Registers with the running runtime's reactor lazily (at the first wait) and stays there.
class io_handle {
public:
    io_handle() noexcept = default;
    /// Takes ownership of `fd`, which must already be non-blocking.
    explicit io_handle(int fd) noexcept : fd_(fd) {}
    io_handle(io_handle&& o) noexcept { take(o); }
    io_handle& operator=(io_handle&& o) noexcept;
    io_handle(const io_handle&) = delete;
    io_handle& operator=(const io_handle&) = delete;
    ~io_handle() { (void)close(); }

    int fd() const noexcept { return fd_; }
    bool is_open() const noexcept { return fd_ >= 0; }

    /// Closes the descriptor. A parked reader or writer resumes with errc::closed.
    /// Errors: what close(2) reports (the descriptor is released regardless).
    result<void> close() noexcept;
    /// Stops watching the descriptor and hands it back without closing it (-1 if none).
    int release() noexcept;

    /// Runs `op` (a callable returning result<R>, one non-blocking attempt) until it does not
    /// report would-block, suspending until `dir` is ready in between. Completes with op's
    /// result, operation_canceled (token or the task's ambient token stopped), errc::closed
    /// (closed meanwhile), or the reactor's registration error. One reader and one writer
    /// at a time: a second concurrent wait in one direction throws usage_error.
    template <class Op>
    io_operation<Op> perform(interest dir, Op op, std::stop_token token = {});

    /// Suspends until `dir` looks ready (readiness may be spurious: retry and expect EAGAIN).
    io_operation<detail::ready_op> wait_ready(interest dir, std::stop_token token = {});
    /// Receives at least one byte from a stream socket; 0 means the peer closed its side.
    /// Errors: the OS errno, operation_canceled, errc::closed.
    io_operation<detail::recv_op> recv(std::span<std::byte> buf, std::stop_token token = {});
    /// read(2) for any descriptor (pipes, eventfd): at least one byte, 0 at end of file.
    /// Errors as recv.
    io_operation<detail::read_op> read(std::span<std::byte> buf, std::stop_token token = {});
    /// Sends at least one byte (no SIGPIPE: EPIPE instead). Errors as recv.
    io_operation<detail::send_op> send(std::span<const std::byte> buf, std::stop_token token = {});
    /// Gathers the buffers into one send; returns the bytes sent (maybe fewer than all).
    /// Errors as send.
    io_operation<detail::writev_op> writev(std::span<const const_buffer> bufs,
                                           std::stop_token token = {});

    /// One non-blocking recv(2) that never suspends: would-block comes back as EAGAIN.
    /// EAGAIN or a short read marks the handle not readable (a stream socket is then drained).
    result<std::size_t> try_recv(std::span<std::byte> buf) noexcept;

    /// Whether the last known readiness of `dir` allows trying its system call right away.
    bool ready_for(interest dir) const noexcept { return ready_ & static_cast<std::uint8_t>(dir); }
    /// Forgets readiness of `dir` (after EAGAIN, or a short read that drained the socket).
    void clear_ready(interest dir) noexcept { ready_ &= ~static_cast<std::uint8_t>(dir); }

    /// For awaitables: parks `w` until its direction is ready. Errors: reactor add/modify.
    result<void> park(detail::io_wait& w, interest dir, detail::scheduler& s);
    void unpark(detail::io_wait& w) noexcept;

private:
    friend class detail::scheduler;
    static void on_event(void* self, readiness r) noexcept;
    /// The runtime is being destroyed: drop the registration without touching it again.
    void forget_runtime() noexcept {
        sched_ = nullptr;
        token_ = {};
        registered_ = interest::none;
    }
    void finish(detail::io_wait*& slot) noexcept;
    void drop_unwanted(readiness r, bool had_reader, bool had_writer) noexcept;
    void deregister() noexcept;
    void take(io_handle& o) noexcept;

    int fd_ = -1;
    detail::scheduler* sched_ = nullptr;  // set at the first park; the handle stays on it
    token token_{};                       // valid while registered with sched_'s reactor
    interest registered_ = interest::none;
    // Optimistic at first: try the call before asking the kernel (most calls succeed).
    // readiness::hangup stays once reported: the end of stream needs no further event.
    std::uint8_t ready_ = readiness::readable | readiness::writable;
    detail::io_wait* reader_ = nullptr;
    detail::io_wait* writer_ = nullptr;
};

/// The awaitable behind io_handle::perform: try, park on EAGAIN, retry from the reactor.
/// Lives in the awaiting coroutine's frame; never copied or moved once suspended.
template <class Op>
class [[nodiscard]] io_operation {
public:
    using result_type = std::invoke_result_t<Op&>;

    io_operation(io_handle& h, interest dir, Op op, std::stop_token token)
        : h_(h), dir_(dir), op_(std::move(op)), token_(std::move(token)) {
        w_.self = this;
    }
    io_operation(const io_operation&) = delete;
    io_operation& operator=(const io_operation&) = delete;

    bool await_ready() noexcept {
        if (!h_.is_open()) {
            r_.emplace(errc::closed);
            return true;
        }
        return h_.ready_for(dir_) && try_once();
    }

    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) {
        auto* s = detail::scheduler::current();
        if (!s) {
            throw usage_error("corio::io_handle: no runtime is running on this thread");
        }
        w_.handle = h;
        if (auto p = h_.park(w_, dir_, *s); !p) {
            r_.emplace(p.error());
            return false;
        }
        return w_.watch_stop(token_, detail::ambient_stop_of(h));
    }

    result_type await_resume() {
        w_.st = detail::waiter::state::idle;
        if (w_.reason) {
            return w_.reason;
        }
        return std::move(*r_);
    }

private:
    struct wait_type final : detail::io_wait {
        io_operation* self = nullptr;
        wait_type() noexcept {
            attempt = [](detail::io_wait& w) noexcept {
                return static_cast<wait_type&>(w).self->try_once();
            };
        }
    };

    bool try_once() noexcept {
        r_.emplace(op_());
        if (!r_->has_value() && detail::would_block(r_->error())) {
            h_.clear_ready(dir_);
            return false;
        }
        return true;
    }

    io_handle& h_;
    interest dir_;
    Op op_;
    std::stop_token token_;
    std::optional<result_type> r_;
    wait_type w_;
};

template <class Op>
io_operation<Op> io_handle::perform(interest dir, Op op, std::stop_token token) {
    return {*this, dir, std::move(op), std::move(token)};
}
inline io_operation<detail::ready_op> io_handle::wait_ready(interest dir, std::stop_token token) {
    return perform(dir, detail::ready_op{}, std::move(token));
}
inline io_operation<detail::recv_op> io_handle::recv(std::span<std::byte> buf,
                                                     std::stop_token token) {
    return perform(interest::read, detail::recv_op{this, buf}, std::move(token));
}
inline io_operation<detail::read_op> io_handle::read(std::span<std::byte> buf,
                                                     std::stop_token token) {
    return perform(interest::read, detail::read_op{fd_, buf}, std::move(token));
}
inline io_operation<detail::send_op> io_handle::send(std::span<const std::byte> buf,
                                                     std::stop_token token) {
    return perform(interest::write, detail::send_op{fd_, buf}, std::move(token));
}
inline io_operation<detail::writev_op> io_handle::writev(std::span<const const_buffer> bufs,
                                                         std::stop_token token) {
    return perform(interest::write, detail::writev_op{fd_, bufs}, std::move(token));
}
inline result<std::size_t> detail::recv_op::operator()() const noexcept {
    return h->try_recv(buf);
}

}  // namespace corio
