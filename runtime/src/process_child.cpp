// SPDX-License-Identifier: MIT
// child: waiting (pidfd or SIGCHLD), try_wait, kill, and the hand-over to the reaper.
#include <corio/process.hpp>

#include "process_state.hpp"

#include <corio/cancel.hpp>
#include <corio/error.hpp>
#include <corio/signal.hpp>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace corio {
namespace {

std::error_code last_error() noexcept {
    return {errno, std::system_category()};
}

int waitid_retry(idtype_t type, id_t id, siginfo_t& info) noexcept {
    int rc;
    do {
        rc = ::waitid(type, id, &info, WEXITED | WNOHANG);
    } while (rc < 0 && errno == EINTR);
    return rc;
}

bool is_canceled(std::error_code e) noexcept {
    return e == std::make_error_code(std::errc::operation_canceled);
}

}  // namespace
}  // namespace corio

namespace corio::process {
namespace {

// Suspends until the child may have exited: its pidfd is readable, or a SIGCHLD came.
task<result<void>> exit_signalled(child::state& s, std::stop_token token) {
    if (s.uses_pidfd) {
        // ready_op never reports would-block, so the handle's readiness must be dropped by hand,
        // or the wait would return at once on a child that still runs.
        s.pidfd.clear_ready(interest::read);
        auto r = co_await s.pidfd.wait_ready(interest::read, std::move(token));
        if (!r) {
            co_return r.error();
        }
        co_return result<void>();
    }
    auto sig = co_await s.sigchld.wait(std::move(token));
    if (!sig) {
        co_return sig.error();
    }
    co_return result<void>();
}

// Waits for the child and reaps it, until `token` stops.
task<result<exit_status>> reap_loop(std::shared_ptr<child::state> s, std::stop_token token) {
    for (;;) {
        if (s->dropped) {
            co_return errc::closed;
        }
        auto r = detail::try_reap(*s);
        if (!r) {
            co_return r.error();
        }
        if (*r) {
            co_return **r;
        }
        auto woke = co_await exit_signalled(*s, token);
        if (!woke && !s->status && !s->dropped) {
            co_return woke.error();
        }
        // A try_wait() meanwhile reaped it (closing the pidfd), or the child let go: see above.
    }
}

}  // namespace

}  // namespace corio::process

namespace corio::detail {

result<std::optional<process::exit_status>> try_reap(process::child::state& s) noexcept {
    using process::exit_status;
    if (s.status) {
        return s.status;
    }
    siginfo_t info{};
    int rc = -1;
    if (s.uses_pidfd) {
        rc = waitid_retry(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(s.pidfd.fd()), info);
    }
    if (!s.uses_pidfd || (rc < 0 && errno == EINVAL)) {
        // No P_PIDFD (Linux 5.3): by pid, which stays ours until this very call reaps it.
        rc = waitid_retry(P_PID, static_cast<id_t>(s.pid), info);
    }
    if (rc < 0) {
        return last_error();
    }
    if (info.si_pid == 0) {
        return std::optional<exit_status>();
    }
    s.status = info.si_code == CLD_EXITED ? exit_status::exited(info.si_status)
                                          : exit_status::signaled(info.si_status);
    (void)s.pidfd.close();  // a wait parked on it resumes and finds the status
    return s.status;
}

result<void> send_signal(process::child::state& s, int signal) noexcept {
    if (s.status) {
        // Reaped: its number may be another process's now.
        return std::error_code(ESRCH, std::system_category());
    }
#ifdef SYS_pidfd_send_signal
    if (s.uses_pidfd) {
        if (::syscall(SYS_pidfd_send_signal, s.pidfd.fd(), signal, nullptr, 0u) != 0) {
            return last_error();
        }
        return {};
    }
#endif
    if (::kill(s.pid, signal) != 0) {
        return last_error();
    }
    return {};
}

}  // namespace corio::detail

namespace corio::process {

std::string to_string(exit_status s) {
    if (auto sig = s.signal()) {
        return "killed by signal " + std::to_string(*sig) + " (" + ::strsignal(*sig) + ")";
    }
    return "exit code " + std::to_string(*s.code());
}

int child::id() const noexcept {
    return state_ ? state_->pid : -1;
}

task<result<exit_status>> child::wait(std::stop_token token) {
    if (!state_) {
        throw usage_error("corio::process::child: wait on an empty child");
    }
    return wait_on(state_, std::move(token));
}

task<result<exit_status>> child::wait_on(std::shared_ptr<state> s, std::stop_token token) {
    if (s->status) {
        co_return *s->status;
    }
    if (s->waiting) {
        throw usage_error("corio::process::child: a second concurrent wait on one child");
    }
    s->waiting = true;
    struct waiting_guard {
        state& s;
        ~waiting_guard() {
            s.waiting = false;
            s.sigchld = signal_listener();  // SIGCHLD back to its disposition when none waits
        }
    } guard{*s};
    if (!s->uses_pidfd) {
        // Subscribed before the first look, so an exit between that look and the wait is kept.
        auto l = signal_listener::open(signal_set{SIGCHLD});
        if (!l) {
            co_return l.error();
        }
        s->sigchld = std::move(*l);
    }
    auto r = co_await reap_loop(s, std::move(token));
    if (r || !is_canceled(r.error()) || !s->kill_on_cancel || s->dropped) {
        co_return r;
    }
    auto killed = detail::send_signal(*s, SIGKILL);
    if (!killed && killed.error() != std::error_code(ESRCH, std::system_category())) {
        co_return r;  // EPERM (it became setuid): it may not end, so it stays waitable instead
    }
    // Uncancellable: the caller is already cancelled, and the child must not be left a zombie.
    (void)co_await with_stop_token(std::stop_token(), reap_loop(s, std::stop_token()));
    co_return r;
}

result<std::optional<exit_status>> child::try_wait() {
    if (!state_) {
        throw usage_error("corio::process::child: try_wait on an empty child");
    }
    return detail::try_reap(*state_);
}

result<void> child::kill(int signal) {
    if (!state_) {
        throw usage_error("corio::process::child: kill on an empty child");
    }
    return detail::send_signal(*state_, signal);
}

child& child::operator=(child&& other) {
    if (this != &other) {
        drop();
        stdin_pipe = std::move(other.stdin_pipe);
        stdout_pipe = std::move(other.stdout_pipe);
        stderr_pipe = std::move(other.stderr_pipe);
        state_ = std::move(other.state_);
    }
    return *this;
}

child::~child() {
    drop();
}

void child::drop() noexcept {
    if (!state_) {
        return;
    }
    std::shared_ptr<state> s = std::move(state_);
    if (!s->status) {
        if (s->kill_on_drop) {
            (void)detail::send_signal(*s, SIGKILL);
        }
        auto r = detail::try_reap(*s);
        if (r && !*r) {
            // release() resumes a wait parked on the pidfd (with errc::closed, see reap_loop).
            corio::detail::reap_in_background(s->pid, s->uses_pidfd ? s->pidfd.release() : -1);
        }
    }
    s->dropped = true;
    s->sigchld = signal_listener();  // a wait parked on SIGCHLD resumes with errc::closed
}

}  // namespace corio::process
