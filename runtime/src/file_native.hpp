// SPDX-License-Identifier: MIT
// What corio::file shares between its translation units: the descriptor its calls keep alive,
// and the awaitable that hands one read, write or sync to a completion backend (io_uring).
#pragma once

#include <corio/detail/completion.hpp>
#include <corio/detail/io_loop.hpp>
#include <corio/detail/promise_base.hpp>
#include <corio/detail/scheduler.hpp>
#include <corio/result.hpp>

#include <atomic>
#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <stop_token>
#include <system_error>

#include <unistd.h>

namespace corio::detail {

/// A file's descriptor, shared by the file and every call in flight on it: the number is
/// closed only once nobody can still pass it to the kernel, so no call acts on a reused one.
struct file_fd {
    explicit file_fd(int d) noexcept : fd(d) {}
    file_fd(const file_fd&) = delete;
    file_fd& operator=(const file_fd&) = delete;
    ~file_fd() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
    int fd;
    /// preadv2(RWF_NOWAIT) said EOPNOTSUPP: reads go straight to the pool.
    std::atomic<bool> no_nowait{false};
};

/// The running loop's completion backend, or nullptr on a readiness backend (or no loop).
inline completion_port* current_port() noexcept {
    return this_thread_loop ? this_thread_loop->port : nullptr;
}

/// One read, write or sync submitted whole to the loop's completion backend. Only its
/// completion resumes it, once the kernel has let go of the buffer: a stop asks the kernel to
/// cancel, and a result that arrives anyway wins (no data is dropped); a frame destroyed
/// meanwhile waits for the kernel (abandon). Lives in the awaiting frame.
class [[nodiscard]] native_file_op {
public:
    native_file_op(completion_request req, std::stop_token token) noexcept
        : req_(req), token_(std::move(token)) {}
    native_file_op(const native_file_op&) = delete;
    native_file_op& operator=(const native_file_op&) = delete;

    bool await_ready() const noexcept { return false; }

    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) {
        io_loop& loop = loop_of(h, "corio::file");
        const std::stop_token* ambient = ambient_stop_of(h);
        if (token_.stop_requested() || (ambient && ambient->stop_requested())) {
            c_.res = -ECANCELED;
            c_.reason = std::make_error_code(std::errc::operation_canceled);
            return false;
        }
        c_.handle = h;
        c_.sched = loop.sched;
        c_.note_park(root_of(h), "file I/O on fd", req_.fd);
        c_.detach = [](waiter& w) noexcept {  // the frame is going away: wait for the kernel
            auto& c = static_cast<completion&>(w);
            c.sched->io().completions()->abandon(c);
            c.res = -ECANCELED;
            c.st = waiter::state::idle;
        };
        c_.interrupt = [](waiter& w) noexcept {  // cancelled: resumed by the CQE that follows
            auto& c = static_cast<completion&>(w);
            c.sched->io().completions()->cancel(c);
        };
        c_.st = waiter::state::parked;
        if (!loop.port->submit(c_, req_)) {
            c_.st = waiter::state::idle;
            return false;
        }
        return c_.watch_stop(token_, ambient, promise_of(h));
    }

    result<std::size_t> await_resume() noexcept {
        c_.st = waiter::state::idle;
        if (c_.res >= 0 || !c_.reason) {
            return c_.bytes();
        }
        return c_.reason;
    }

private:
    completion_request req_;
    std::stop_token token_;
    completion c_;
};

}  // namespace corio::detail
