// SPDX-License-Identifier: MIT
// io_handle: a non-blocking descriptor whose operations suspend on EAGAIN until it is ready.
#pragma once

#include <corio/detail/completion.hpp>
#include <corio/detail/io_loop.hpp>
#include <corio/detail/io_ops.hpp>
#include <corio/detail/io_wait.hpp>
#include <corio/detail/promise_base.hpp>
#include <corio/detail/sys.hpp>
#include <corio/error.hpp>
#include <corio/interest.hpp>
#include <corio/result.hpp>
#include <corio/token.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <span>
#include <stop_token>
#include <algorithm>
#include <cerrno>
#include <concepts>
#include <type_traits>

namespace corio {

class io_handle;

template <class Op>
class io_operation;

namespace detail {
/// What a task parked on `Op` waits on, for runtime::dump_tasks() ("recv on fd 7").
template <class Op>
constexpr const char* wait_text(interest dir) noexcept {
    if constexpr (std::is_same_v<Op, recv_op>) {
        return "recv on fd";
    } else if constexpr (std::is_same_v<Op, read_op>) {
        return "read on fd";
    } else if constexpr (std::is_same_v<Op, send_op>) {
        return "send on fd";
    } else if constexpr (std::is_same_v<Op, writev_op>) {
        return "writev on fd";
    } else if constexpr (std::is_same_v<Op, accept_op>) {
        return "accept on fd";
    } else if constexpr (std::is_same_v<Op, connect_op>) {
        return "connect on fd";
    } else {
        return dir == interest::write ? "wait writable on fd" : "wait readable on fd";
    }
}
}  // namespace detail

/// Owns one non-blocking descriptor and parks at most one reader and one writer on it.
/// Registers with the running loop's reactor lazily (at the first wait) and stays there: an
/// operation started on another loop (or runtime) meanwhile throws usage_error.
class io_handle {
public:
    io_handle() noexcept = default;
    /// Takes ownership of `fd`, which must already be non-blocking. Made inside a running
    /// runtime, it also claims the number there: a handle still parked on a descriptor of that
    /// number (closed behind corio's back) resumes with errc::stale_descriptor, and every later
    /// operation on that handle fails the same way, so it never reads this one's data.
    explicit io_handle(int fd) noexcept : fd_(fd) { claim(); }
    /// Moving a handle that has an operation parked on it throws usage_error (the operation
    /// refers to this handle); move it only between operations.
    io_handle(io_handle&& o) { take(o); }
    /// As the move constructor; also throws usage_error if this handle has a parked operation.
    io_handle& operator=(io_handle&& o);
    io_handle(const io_handle&) = delete;
    io_handle& operator=(const io_handle&) = delete;
    ~io_handle() { (void)close(); }

    int fd() const noexcept { return fd_; }
    /// False once closed or released, and once found stale (its number reused: fd() is -1
    /// then, and close() does nothing, as the number is no longer this handle's).
    bool is_open() const noexcept { return fd_ >= 0; }

    /// Closes the descriptor. A parked reader or writer resumes with errc::closed.
    /// Errors: what close(2) reports (the descriptor is released regardless).
    result<void> close() noexcept;
    /// Stops watching the descriptor and hands it back without closing it (-1 if none). What
    /// the kernel queued for it (bytes, connections) stays there for its next owner, on every
    /// backend; a parked operation resumes with errc::closed.
    int release() noexcept;

    /// Runs `op` (a callable returning result<R>, one non-blocking attempt) until it does not
    /// report would-block, suspending until `dir` is ready in between. Completes with op's
    /// result, operation_canceled (token or the task's ambient token stopped), errc::closed
    /// (closed meanwhile), or the reactor's registration error. One reader and one writer
    /// at a time: a second concurrent wait in one direction throws usage_error. After a task
    /// has finished 128 operations (or moved about 256 KiB) without suspending, the next one
    /// suspends once (it completes after the loop's next poll), so a busy socket cannot
    /// starve timers or other connections.
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
    /// Sends at least one byte. Errors as recv; EPIPE when the reader is gone (never SIGPIPE:
    /// no operation raises it, see docs/design.md "SIGPIPE").
    io_operation<detail::send_op> send(std::span<const std::byte> buf, std::stop_token token = {});
    /// Gathers the buffers into one send; returns the bytes sent (maybe fewer than all: at most
    /// IOV_MAX buffers go in one call, on every backend). Errors as send, on pipes too (EPIPE,
    /// never SIGPIPE).
    io_operation<detail::writev_op> writev(std::span<const const_buffer> bufs,
                                           std::stop_token token = {});
    /// Accepts one connection on a listening socket: a non-blocking, close-on-exec descriptor
    /// the caller owns. Errors: the OS errno (EMFILE...), operation_canceled, errc::closed.
    io_operation<detail::accept_op> accept(std::stop_token token = {});
    /// Connects a non-blocking socket to `addr` (a sockaddr of `addr_len` bytes that must stay
    /// valid until completion). Errors: ECONNREFUSED etc., operation_canceled, errc::closed.
    io_operation<detail::connect_op> connect(const void* addr, std::size_t addr_len,
                                             std::stop_token token = {});

    /// One non-blocking recv(2) that never suspends: would-block comes back as EAGAIN.
    /// EAGAIN or a short read marks the handle not readable (a stream socket is then drained).
    result<std::size_t> try_recv(std::span<std::byte> buf) noexcept;

    /// Whether the last known readiness of `dir` allows trying its system call right away.
    bool ready_for(interest dir) const noexcept { return ready_ & static_cast<std::uint8_t>(dir); }
    /// Forgets readiness of `dir` (after EAGAIN, or a short read that drained the socket).
    void clear_ready(interest dir) noexcept { ready_ &= ~static_cast<std::uint8_t>(dir); }

private:
    template <class Op>
    friend class io_operation;
    friend class detail::scheduler;
    friend bool detail::poll_ready(detail::io_wait&, readiness) noexcept;
    friend void detail::complete(detail::completion&) noexcept;

    // Readiness (io_handle_readiness.cpp): parks `w` until its direction is ready.
    result<void> park(detail::io_wait& w, interest dir, detail::scheduler& s);
    void occupy(detail::io_wait*& slot, detail::io_wait& w, interest dir, detail::scheduler& s) noexcept;
    void unpark(detail::io_wait& w) noexcept;
    /// `w` is parked although `dir` looked ready (its task ran out of budget): have it retried
    /// after the loop's next poll, as a readiness event would.
    void retry_after_poll(detail::io_wait& w) noexcept;
    static void on_event(void* self, readiness r) noexcept;
    void finish(detail::io_wait*& slot) noexcept;
    void drop_unwanted(readiness r, bool had_reader, bool had_writer) noexcept;
    // The number fd_ was reused behind corio's back (reactor::claim): let go of it for good.
    void orphan() noexcept;
    void claim() noexcept;

    // Completion (io_handle_completion.cpp): occupies `dir`'s slot while `c` is submitted.
    result<void> park(detail::completion& c, interest dir, detail::scheduler& s,
                      detail::completion_kind kind);
    void unlink(detail::completion& c) noexcept;
    /// Whether an op of `dir` may be tried as a plain call before it is submitted: it follows an
    /// op of the same direction (sends in a row, where waiting a loop turn for each would halve
    /// the rate; a send after a receive, as in an echo, is batched into the loop's one enter
    /// with the others), the handle looks ready, and for a read, the backend keeps no error of a
    /// failed send for the reader (a reset the read must report instead of the end of stream).
    bool may_try_first(interest dir) const noexcept {
        return last_done_ == static_cast<std::uint8_t>(dir) && ready_for(dir) &&
               !(dir == interest::read && backend_state_);
    }

    /// The runtime is being destroyed: drop the registration without touching it again.
    void forget_runtime() noexcept;
    void check_free(interest dir) const;
    void check_runtime(detail::scheduler& s) const;
    // Registered with another loop (or runtime): using it here is a usage_error, not a race.
    bool owned_elsewhere(const detail::scheduler& s) const noexcept {
        return sched_ && sched_ != &s && (token_.valid() || has_parked());
    }
    bool has_parked() const noexcept { return reader_ || writer_ || reading_ || writing_; }
    void deregister() noexcept;
    // Resumes every parked or submitted operation with `why` (submitted ones once cancelled).
    void wake_all(std::error_code why) noexcept;
    void take(io_handle& o);

    int fd_ = -1;
    detail::scheduler* sched_ = nullptr;  // set at the first park; the handle stays on it
    token token_{};                       // valid while registered with sched_'s reactor
    interest registered_ = interest::none;
    // Optimistic at first: try the call before asking the kernel (most calls succeed).
    // readiness::hangup stays once reported: the end of stream needs no further event.
    std::uint8_t ready_ = readiness::readable | readiness::writable;
    bool backend_state_ = false;  // the completion backend keeps state for fd_ (a send's reset)
    std::uint8_t last_done_ = 0;  // completion backend: the direction of the last op finished
    bool stale_ = false;          // orphan()ed: operations fail with errc::stale_descriptor
    // A direction is held by a readiness wait or by a submitted operation, never both.
    detail::io_wait* reader_ = nullptr;
    detail::io_wait* writer_ = nullptr;
    detail::completion* reading_ = nullptr;
    detail::completion* writing_ = nullptr;
};

/// The awaitable behind io_handle::perform: try, park on EAGAIN, retry from the reactor; on a
/// completion backend, ops that can be are submitted whole and resumed by their completion.
/// Lives in the awaiting coroutine's frame; never copied or moved once suspended.
template <class Op>
class [[nodiscard]] io_operation {
public:
    using result_type = std::invoke_result_t<Op&>;

    io_operation(io_handle& h, interest dir, Op op, std::stop_token token)
        : h_(h), dir_(dir), op_(std::move(op)), token_(std::move(token)) {
        new (&w_) wait_type();
    }
    io_operation(const io_operation&) = delete;
    io_operation& operator=(const io_operation&) = delete;
    ~io_operation() {
        if (on_port_) {
            c_.~completion_type();  // a parked one detaches itself (the kernel lets go first)
        } else {
            w_.~wait_type();
        }
    }

    bool await_ready() noexcept {
        if (!h_.is_open()) {
            r_.emplace(h_.stale_ ? errc::stale_descriptor : errc::closed);
            return true;
        }
        return false;  // the first try needs the task's loop (its budget): in await_suspend
    }

    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) {
        loop_ = &detail::loop_of(h, "corio::io_handle");
        if (try_at_once()) {
            return false;
        }
        const std::stop_token* ambient = detail::ambient_stop_of(h);
        if constexpr (completion) {
            if (loop_->port) {
                w_.~wait_type();  // never parked: the frame holds one waiter, not both
                new (&c_) completion_type();
                on_port_ = true;
                c_.handle = h;
                c_.note_park(detail::root_of(h), detail::wait_text<Op>(dir_), h_.fd_);
                return submit(ambient, detail::promise_of(h));
            }
        }
        w_.handle = h;
        w_.self = this;
        w_.note_park(detail::root_of(h), detail::wait_text<Op>(dir_), h_.fd_);
        if (auto p = h_.park(w_, dir_, *loop_->sched); !p) {
            // It cannot wait (select: a descriptor >= FD_SETSIZE). One try instead, so what
            // needs no wait still works even after EAGAIN or the budget skipped the first.
            if (!try_once()) {
                r_.emplace(p.error());
            }
            return false;
        }
        if (!w_.watch_stop(token_, ambient, detail::promise_of(h))) {
            return false;
        }
        if (h_.ready_for(dir_)) {  // parked for the budget, not for EAGAIN
            h_.retry_after_poll(w_);
        }
        return true;
    }

    result_type await_resume() {
        if constexpr (completion) {
            if (on_port_) {
                c_.st = detail::waiter::state::idle;
                // A result the kernel produced wins over a late cancellation: no data is dropped.
                if (c_.res >= 0 || !c_.reason) {
                    return op_.complete(c_);
                }
                return c_.reason;
            }
        }
        w_.st = detail::waiter::state::idle;
        if (w_.reason) {
            return w_.reason;
        }
        return std::move(*r_);
    }

private:
    static constexpr bool completion = detail::completion_capable<Op>;
    struct wait_type final : detail::io_wait {
        io_operation* self = nullptr;
        wait_type() noexcept {
            this->attempt = [](detail::io_wait& w) noexcept {
                return static_cast<wait_type&>(w).self->try_once();
            };
        }
    };
    struct no_completion {};
    using completion_type = std::conditional_t<completion, detail::completion, no_completion>;

    bool submit(const std::stop_token* ambient, detail::promise_base* frame) {
        if constexpr (completion) {
            if (token_.stop_requested() || (ambient && ambient->stop_requested())) {
                c_.reason = std::make_error_code(std::errc::operation_canceled);
                c_.res = -ECANCELED;
                return false;
            }
            const detail::completion_request req = op_.describe();
            if (auto p = h_.park(c_, dir_, *loop_->sched, req.kind); !p) {
                c_.res = -p.error().value();
                return false;
            }
            c_.requested = static_cast<std::uint32_t>(std::min<std::size_t>(req.size, UINT32_MAX));
            if (!loop_->port->submit(c_, req)) {
                h_.unlink(c_);
                c_.st = detail::waiter::state::idle;
                return false;
            }
            return c_.watch_stop(token_, ambient, frame);
        } else {
            (void)ambient;
            (void)frame;
            return false;
        }
    }

    // One unit per operation, and one per 2 KiB it moved: a task copying bulk data yields
    // after about 256 KiB (a quarter of a millisecond on loopback), a chatty one after 128
    // operations (tokio's figure).
    void spend_budget() noexcept {
        std::uint32_t cost = 1;
        if constexpr (std::is_same_v<result_type, result<std::size_t>>) {
            if (r_->has_value()) {
                cost += static_cast<std::uint32_t>(std::min<std::size_t>(**r_ / 2048, 1024));
            }
        }
        loop_->budget -= std::min(cost, loop_->budget);
    }

    // The fast path: the operation finished without parking (it was ready, and the task has
    // budget left). False when it must wait, was parked for the budget, is to be submitted whole,
    // or the handle belongs to another loop (park() then throws).
    bool try_at_once() noexcept {
        if (loop_->budget == 0 || h_.owned_elsewhere(*loop_->sched)) {
            return false;
        }
        if constexpr (completion) {
            if (loop_->port && !(detail::tries_first<Op>() && h_.may_try_first(dir_))) {
                return false;  // submitted whole
            }
        }
        if (h_.ready_for(dir_) && try_once()) {
            spend_budget();
            h_.last_done_ = static_cast<std::uint8_t>(dir_);
            return true;
        }
        return false;
    }

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
    detail::io_loop* loop_ = nullptr;  // the awaiting task's, set by await_suspend
    bool on_port_ = false;  // submitted to a completion backend rather than tried: c_ is live
    union {
        wait_type w_;          // the readiness wait (readiness backends; generic ops on io_uring)
        completion_type c_;    // the submitted operation (io_uring)
    };
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
inline io_operation<detail::accept_op> io_handle::accept(std::stop_token token) {
    return perform(interest::read, detail::accept_op{fd_}, std::move(token));
}
inline io_operation<detail::connect_op> io_handle::connect(const void* addr, std::size_t addr_len,
                                                           std::stop_token token) {
    return perform(interest::write, detail::connect_op{fd_, addr, addr_len}, std::move(token));
}
inline result<std::size_t> detail::recv_op::operator()() const noexcept {
    return h->try_recv(buf);
}
inline detail::completion_request detail::recv_op::describe() const noexcept {
    return {completion_kind::recv, h->fd(), buf.data(), buf.size()};
}

}  // namespace corio
