// SPDX-License-Identifier: MIT
// The background reaper: children destroyed before they were reaped are reaped here, so none
// stays a zombie. Two lanes, each a thread started at its first child: pidfds are polled all
// at once; children without a pidfd (the SIGCHLD path) are waited for one after the other.
#include "process_state.hpp"

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace corio::detail {
namespace {

struct orphan {
    int pid;
    int pidfd;
};

// Leaked on purpose: a detached thread uses it until the process exits.
struct reaper {
    std::mutex m;
    std::condition_variable more;  // the blocking lane: a child was queued
    std::vector<orphan> incoming;  // pidfd lane: not yet polled
    std::deque<int> queued;        // blocking lane
    int wake = -1;                 // eventfd: the pidfd lane has incoming children
    bool polling = false;          // the pidfd lane's thread runs
    bool blocking = false;         // the blocking lane's thread runs
};

reaper& the_reaper() {
    static reaper* r = new reaper;
    return *r;
}

// Reaps `o` if it has exited (or is not ours any more); false while it runs.
bool reaped(const orphan& o) noexcept {
    siginfo_t info{};
    int rc;
    do {
        rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(o.pidfd), &info,
                      WEXITED | WNOHANG);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno == EINVAL) {  // no P_PIDFD (Linux 5.3): the pidfd pins the pid anyway
        do {
            rc = ::waitid(P_PID, static_cast<id_t>(o.pid), &info, WEXITED | WNOHANG);
        } while (rc < 0 && errno == EINTR);
    }
    return rc < 0 || info.si_pid != 0;
}

void poll_lane(reaper& r) {
    std::vector<orphan> watched;
    std::vector<pollfd> fds;
    for (;;) {
        {
            std::lock_guard lock(r.m);
            watched.insert(watched.end(), r.incoming.begin(), r.incoming.end());
            r.incoming.clear();
        }
        fds.assign(1, pollfd{r.wake, POLLIN, 0});
        for (const orphan& o : watched) {
            fds.push_back({o.pidfd, POLLIN, 0});
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            continue;  // EINTR; ENOMEM passes too
        }
        if (fds[0].revents) {
            eventfd_t n;
            (void)::eventfd_read(r.wake, &n);
        }
        // Index i + 1 of fds is watched[i]; erase from the back so earlier indices hold.
        for (std::size_t i = watched.size(); i-- > 0;) {
            if (fds[i + 1].revents && reaped(watched[i])) {
                ::close(watched[i].pidfd);
                watched.erase(watched.begin() + static_cast<std::ptrdiff_t>(i));
            }
        }
    }
}

void blocking_lane(reaper& r) {
    for (;;) {
        int pid;
        {
            std::unique_lock lock(r.m);
            r.more.wait(lock, [&] { return !r.queued.empty(); });
            pid = r.queued.front();
            r.queued.pop_front();
        }
        siginfo_t info{};
        while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED) < 0 && errno == EINTR) {
        }
    }
}

// Starts `body` on a detached thread that blocks every signal, so none the program expects
// on its own threads is delivered here. False if no thread could be started.
template <class Body>
bool start_detached(Body body) noexcept {
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);  // the new thread inherits the mask
    bool started = true;
    try {
        std::thread(body).detach();
    } catch (...) {
        started = false;
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return started;
}

}  // namespace

void reap_in_background(int pid, int pidfd) noexcept {
    reaper& r = the_reaper();
    std::lock_guard lock(r.m);
    if (pidfd < 0) {
        r.queued.push_back(pid);
        if (!r.blocking) {
            r.blocking = start_detached([&r] { blocking_lane(r); });
        }
        r.more.notify_one();
        return;
    }
    if (r.wake < 0) {
        r.wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    if (!r.polling && r.wake >= 0) {
        r.polling = start_detached([&r] { poll_lane(r); });
    }
    if (!r.polling) {
        ::close(pidfd);  // no thread: best effort ends here (the kernel reaps it at our exit)
        return;
    }
    r.incoming.push_back({pid, pidfd});
    (void)::eventfd_write(r.wake, 1);
}

}  // namespace corio::detail
