// SPDX-License-Identifier: MIT
#include "sigpipe_guard.hpp"

#include <cerrno>
#include <csignal>
#include <ctime>

#include <pthread.h>

namespace corio::detail {
namespace {
sigset_t only_sigpipe() noexcept {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    return s;
}

bool sigpipe_pending() noexcept {
    sigset_t pending;
    sigemptyset(&pending);
    return ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}
}  // namespace

sigpipe_guard::sigpipe_guard() noexcept {
    const sigset_t pipe = only_sigpipe();
    sigset_t old;
    sigemptyset(&old);
    if (::pthread_sigmask(SIG_BLOCK, &pipe, &old) == 0) {
        was_blocked_ = sigismember(&old, SIGPIPE) == 1;
    }
    was_pending_ = sigpipe_pending();
}

sigpipe_guard::~sigpipe_guard() {
    const sigset_t pipe = only_sigpipe();
    if (!was_pending_ && sigpipe_pending()) {
        // Standard signals do not queue: one wait takes whatever our writes raised.
        const timespec now{0, 0};
        while (::sigtimedwait(&pipe, nullptr, &now) < 0 && errno == EINTR) {
        }
    }
    if (!was_blocked_) {
        // Only SIGPIPE: the loop's code may have changed the rest of the mask on purpose.
        ::pthread_sigmask(SIG_UNBLOCK, &pipe, nullptr);
    }
}

}  // namespace corio::detail
