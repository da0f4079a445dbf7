// SPDX-License-Identifier: MIT
// signal_listener: a subscription to POSIX signals that keeps them caught between waits.
#pragma once

#include <corio/result.hpp>
#include <corio/signal.hpp>
#include <corio/task.hpp>

#include <memory>
#include <stop_token>

namespace corio {

/// A subscription to a set of signals: caught from open() until it is destroyed, each delivery
/// kept for wait(), coalesced per signal number (a burst is reported once, never fatal or lost).
///
/// Threads: open() and the destructor may run on any thread, concurrently with deliveries and
/// with other listeners. wait() and try_wait() run on one runtime's thread; once waited on,
/// destroy the listener on that thread too (or after that runtime is gone), as an io_handle.
/// Dispositions are process-wide: the first listener of a signal installs corio's handler and
/// the last one to go restores the disposition it found, so do not call sigaction() for a
/// signal while a listener holds it. At most 64 listeners exist at a time.
class signal_listener {
public:
    /// Subscribes to `signals`; they are caught from now on. Errors: EINVAL for an empty set or
    /// a signal that cannot be caught (SIGKILL, SIGSTOP, out of range, reserved by the C
    /// library), EMFILE/ENFILE (each listener owns a pipe), EBUSY when 64 listeners are open.
    static result<signal_listener> open(signal_set signals);

    /// Empty: wait() and try_wait() on it throw usage_error.
    signal_listener() noexcept = default;
    /// The subscription moves along: the signals stay caught, pending deliveries stay queued.
    signal_listener(signal_listener&&) noexcept = default;
    signal_listener& operator=(signal_listener&& other) noexcept;
    signal_listener(const signal_listener&) = delete;
    signal_listener& operator=(const signal_listener&) = delete;
    /// Unsubscribes. A pending wait completes with errc::closed; deliveries not yet taken are
    /// dropped; the signals no other listener holds get back the disposition open() found.
    ~signal_listener();

    bool is_open() const noexcept { return state_ != nullptr; }

    /// Returns the number of the next delivered signal: at once if one arrived since the last
    /// wait took one (the lowest number first when several are pending), else when one comes.
    /// Errors: operation_canceled (`token` or the task's ambient token stopped, and nothing was
    /// pending: a delivery already made is returned, never dropped), errc::closed (the listener
    /// was destroyed meanwhile). One wait at a time: a second concurrent wait throws
    /// usage_error, as does waiting on an empty (moved-from) listener.
    task<result<int>> wait(std::stop_token token = {});

    /// Takes a pending delivery without suspending: its signal number, or EAGAIN if none is
    /// pending. Throws usage_error on an empty listener.
    result<int> try_wait();

private:
    struct state;
    explicit signal_listener(std::shared_ptr<state> s) noexcept : state_(std::move(s)) {}
    void close() noexcept;
    static task<result<int>> wait_on(std::shared_ptr<state> s, std::stop_token token);

    // Shared with a running wait(), so moving or destroying the listener meanwhile leaves the
    // waiting task a valid state to finish on (it then reports errc::closed).
    std::shared_ptr<state> state_;
};

}  // namespace corio
