// SPDX-License-Identifier: MIT
// event_loop: the reactor with per-descriptor callbacks, for code that uses no coroutines.
#pragma once

#include <corio/interest.hpp>
#include <corio/result.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace corio {

/// A callback event loop (add a descriptor with a callback, run, stop) on any backend.
/// Single-threaded: only stop() may be called from another thread.
///
/// Every backend reports the same events (level-triggered, as epoll and poll(2) do, also on
/// epoll-et, kqueue and io_uring): a handler is called on each wait while its descriptor is
/// ready for a watched direction, so one that reads only part of what is queued is called
/// again. What a handler is told:
/// - only the watched directions: readable with interest::read, writable with interest::write;
/// - with interest::none, nothing at all, not even a hang-up or an error;
/// - a peer's close (or shutdown of its writing side) is readable to a reader (recv returns 0)
///   and writable to a writer (send fails with EPIPE), with readiness::hangup added on every
///   backend but select, which cannot tell; readiness::error likewise where the kernel says.
class event_loop {
public:
    /// Called with the descriptor and what was reported. It may add, modify or remove any
    /// descriptor, including its own, and call stop(). Exceptions thrown from it terminate.
    using handler = std::function<void(int fd, readiness events)>;

    /// Opens a loop on the named backend ("" = default_backend_name()). Errors: as reactor::open.
    static result<event_loop> open(std::string_view backend = {});
    event_loop(event_loop&&) noexcept;
    event_loop& operator=(event_loop&&) noexcept;
    ~event_loop();

    /// Watches `fd` (which should be non-blocking). Errors: EEXIST if it is already added,
    /// EINVAL for an empty handler, the backend's (EBADF, EPERM, errc::fd_set_overflow).
    result<void> add(int fd, interest want, handler h);
    /// Changes what `fd` is watched for. Errors: ENOENT if it is not added; the backend's.
    result<void> modify(int fd, interest want);
    /// Stops watching `fd`; call it before closing fd. The handler is destroyed at once, or,
    /// when called from a handler, once the current dispatch ends (it may be the running one).
    /// Errors: ENOENT if it is not added.
    result<void> remove(int fd);

    /// Dispatches events until stop(). Errors: the backend's wait error.
    result<void> run();
    /// Waits at most `timeout` (nullopt: no limit) once and dispatches; returns the count.
    /// It neither honours nor uses up a stop() request.
    result<std::size_t> run_once(std::optional<std::chrono::nanoseconds> timeout);
    /// Makes run() return after the current dispatch. Thread-safe. A request is never lost:
    /// made while no run() is running (before the first, between two, from a handler called
    /// by run_once()), it makes the next run() return at once. The run() it ends uses it up,
    /// so run() may be called again and runs until the next stop(); several requests before
    /// one run() count as one. (Like a permit, as tokio's Notify; unlike asio's io_context,
    /// no restart() is needed.)
    void stop() noexcept;

    std::string_view backend_name() const noexcept;
    std::size_t size() const noexcept;

private:
    struct impl;
    explicit event_loop(std::unique_ptr<impl> p) noexcept;
    std::unique_ptr<impl> impl_;
};

}  // namespace corio
