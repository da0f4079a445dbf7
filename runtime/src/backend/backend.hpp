// SPDX-License-Identifier: MIT
// The backend interface: translates corio's vocabulary to one kernel API and blocks in wait.
#pragma once

#include <corio/detail/completion.hpp>
#include <corio/interest.hpp>
#include <corio/reactor.hpp>
#include <corio/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <poll.h>

namespace corio::detail {

/// One readiness event: the packed token given at add/modify, and what was reported.
struct ready_event {
    std::uint64_t token;
    readiness events;
};

/// A kernel event API behind one interface (as Redis's ae and mio's selector). A backend never
/// resumes a coroutine or calls user code; reactor.cpp dispatches what wait() reports.
class backend {
public:
    virtual ~backend() = default;

    virtual std::string_view name() const noexcept = 0;
    /// True when a trigger::native registration's readiness is reported once per change
    /// (epoll-et, kqueue EV_CLEAR), so callers must drain until EAGAIN; corio's operations
    /// always do, so both modes work. trigger::level registrations are level-triggered anywhere.
    virtual bool edge_triggered() const noexcept = 0;
    /// A completion backend also runs whole operations (see detail/completion.hpp); wait()
    /// then resumes their coroutines through detail::complete as their results arrive.
    virtual completion_port* completions() noexcept { return nullptr; }
    virtual reactor_stats stats() const noexcept { return {}; }

    /// `mode` as reactor::add documents it: trigger::level is reported on every wait() while
    /// the descriptor is ready (no EPOLLET, no EV_CLEAR, a one-shot poll re-armed after each
    /// report), and with interest::none nothing at all is reported, not even a hang-up.
    virtual result<void> add(int fd, interest want, std::uint64_t token, trigger mode) = 0;
    /// `mode` is the one given to add().
    virtual result<void> modify(int fd, interest want, std::uint64_t token, trigger mode) = 0;
    /// Stop watching fd; called before the fd is closed.
    virtual result<void> remove(int fd) = 0;
    /// Blocks until an event, wake() or the timeout (nullopt: no timeout); fills `out` and
    /// returns how many. EINTR gives 0 events. Never allocates.
    virtual result<std::size_t> wait(std::span<ready_event> out,
                                     std::optional<std::chrono::nanoseconds> timeout) = 0;
    /// Makes a blocked (or the next) wait() return. Safe from any thread and signal-safe.
    virtual void wake() noexcept = 0;
    /// The loop is about to run on the calling thread (perhaps not the one that opened it).
    /// Throws usage_error if the backend cannot follow it there.
    virtual void attach_thread() {}
};

/// What poll(2)'s revents (or an io_uring POLL_ADD's result) report, in corio's terms. Hang-up
/// and error also set readable and writable, so whoever waits retries and learns the truth.
inline readiness readiness_from_poll(unsigned e) noexcept {
    readiness r;
    if (e & (POLLIN | POLLPRI)) {
        r.bits |= readiness::readable;
    }
    if (e & POLLOUT) {
        r.bits |= readiness::writable;
    }
#ifdef POLLRDHUP
    if (e & POLLRDHUP) {
        r.bits |= readiness::hangup | readiness::readable;
    }
#endif
    if (e & POLLHUP) {
        r.bits |= readiness::hangup | readiness::readable | readiness::writable;
    }
    // POLLNVAL: the descriptor was closed without remove(); the retried call says EBADF.
    if (e & (POLLERR | POLLNVAL)) {
        r.bits |= readiness::error | readiness::readable | readiness::writable;
    }
    return r;
}

/// Opens the backend called `name` ("epoll", "epoll-et", ...). errc::backend_unavailable
/// when it is not compiled in; the OS error when the kernel refuses it.
result<std::unique_ptr<backend>> open_backend(std::string_view name, const reactor_options& options);

result<std::unique_ptr<backend>> open_epoll(bool edge_triggered);
result<std::unique_ptr<backend>> open_poll();
/// errc::fd_set_overflow if even its wake-up pipe is >= FD_SETSIZE.
result<std::unique_ptr<backend>> open_select();
#ifdef CORIO_HAS_KQUEUE
result<std::unique_ptr<backend>> open_kqueue();
#endif
#ifdef CORIO_HAS_IO_URING
/// Probes the kernel: errc::backend_unavailable (with the reason in `why`) when io_uring is
/// missing, disabled (kernel.io_uring_disabled, seccomp) or lacks a feature corio needs.
/// `entries`: the SQ size (0: the default).
result<std::unique_ptr<backend>> open_io_uring(std::string& why, std::uint32_t entries);
#endif

}  // namespace corio::detail
