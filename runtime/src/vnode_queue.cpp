// SPDX-License-Identifier: MIT
// vnode_queue: polled directly on BSD and macOS, through a relay thread under libkqueue.
#include "vnode_queue.hpp"

#ifdef CORIO_HAS_KQUEUE
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include <pthread.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>
#endif

namespace corio::detail {

#ifdef CORIO_HAS_KQUEUE
namespace {

std::error_code last_error() {
    return {errno, std::system_category()};
}

constexpr int batch = 64;

vnode_note note_of(const struct kevent& ev) noexcept {
    return {static_cast<int>(reinterpret_cast<std::intptr_t>(ev.udata)), ev.fflags};
}

#ifndef __linux__
// The system kqueue: readable while it holds events, so it is the descriptor the loop waits on.
class polled_queue final : public vnode_queue {
public:
    explicit polled_queue(int kq) noexcept : kq_(kq) {}
    int kq() const noexcept override { return kq_; }
    int fd() const noexcept override { return kq_; }  // closed by its owner, the watcher

    result<std::vector<vnode_note>> take(int) override {
        std::array<struct kevent, batch> evs;
        const timespec zero{};
        int n;
        do {
            n = ::kevent(kq_, nullptr, 0, evs.data(), batch, &zero);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            return last_error();
        }
        if (n == 0) {
            return std::error_code(EAGAIN, std::system_category());  // would-block, as read(2) says it
        }
        std::vector<vnode_note> out;
        for (int i = 0; i < n; ++i) {
            out.push_back(note_of(evs[static_cast<std::size_t>(i)]));
        }
        return out;
    }

private:
    int kq_;
};
#endif

// libkqueue: a thread blocks in kevent() and queues what it gets, then writes a byte to a
// socket pair whose other end the loop waits on. Notes are queued before the byte is written,
// so a wake-up never precedes its notes (a byte may outlive them: take() then says EAGAIN).
class relayed_queue final : public vnode_queue {
public:
    relayed_queue(int kq, int wake_read, int wake_write) noexcept
        : kq_(kq), wake_read_(wake_read), wake_write_(wake_write) {}
    ~relayed_queue() override {
        if (thread_.joinable()) {
            struct kevent stop;
            EV_SET(&stop, stop_ident, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
            ::kevent(kq_, &stop, 1, nullptr, 0, nullptr);
            thread_.join();
        }
        ::close(wake_write_);
        ::close(kq_);
    }

    result<void> start() {
        struct kevent stop;
        EV_SET(&stop, stop_ident, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
        if (::kevent(kq_, &stop, 1, nullptr, 0, nullptr) != 0) {
            return last_error();
        }
        // The relay takes no signals: they go to the program's own threads.
        sigset_t all, old;
        sigfillset(&all);
        ::pthread_sigmask(SIG_SETMASK, &all, &old);
        try {
            thread_ = std::thread([this] { run(); });
        } catch (const std::system_error& e) {
            ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
            return e.code();
        }
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
        return {};
    }

    int kq() const noexcept override { return kq_; }
    int fd() const noexcept override { return wake_read_; }

    result<std::vector<vnode_note>> take(int fd) override {
        std::array<char, 64> bytes;
        while (::recv(fd, bytes.data(), bytes.size(), MSG_DONTWAIT) > 0) {
        }
        std::lock_guard lock(mutex_);
        if (notes_.empty()) {
            if (failed_) {
                return failed_;
            }
            return std::error_code(EAGAIN, std::system_category());  // would-block, as read(2) says it
        }
        return std::exchange(notes_, {});
    }

private:
    static constexpr uintptr_t stop_ident = 1;

    void run() {
        std::array<struct kevent, batch> evs;
        for (;;) {
            const int n = ::kevent(kq_, nullptr, 0, evs.data(), batch, nullptr);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            bool stop = false;
            {
                std::lock_guard lock(mutex_);
                if (n < 0) {
                    failed_ = last_error();
                    stop = true;
                }
                for (int i = 0; i < n; ++i) {
                    const struct kevent& ev = evs[static_cast<std::size_t>(i)];
                    if (ev.filter == EVFILT_USER) {
                        stop = true;
                    } else {
                        notes_.push_back(note_of(ev));
                    }
                }
            }
            // The loop may have closed its end already: EPIPE then, never SIGPIPE.
            ::send(wake_write_, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (stop) {
                return;
            }
        }
    }

    int kq_;
    int wake_read_;   // owned by the watcher, which waits on it
    int wake_write_;  // owned here
    std::thread thread_;
    std::mutex mutex_;  // guards notes_ and failed_ (the relay thread against the loop)
    std::vector<vnode_note> notes_;
    std::error_code failed_;  // kevent() failed in the relay: reported once notes run out
};

}  // namespace

result<std::unique_ptr<vnode_queue>> vnode_queue::open() {
    const int kq = ::kqueue();
    if (kq < 0) {
        return last_error();
    }
#ifndef __linux__
    return std::unique_ptr<vnode_queue>(std::make_unique<polled_queue>(kq));
#else
    int wake[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, wake) != 0) {
        auto e = last_error();
        ::close(kq);
        return e;
    }
    auto q = std::make_unique<relayed_queue>(kq, wake[0], wake[1]);
    if (auto started = q->start(); !started) {
        ::close(wake[0]);
        return started.error();  // q closes the kqueue and the write end
    }
    return std::unique_ptr<vnode_queue>(std::move(q));
#endif
}

#else

result<std::unique_ptr<vnode_queue>> vnode_queue::open() {
    return std::errc::function_not_supported;
}

#endif

}  // namespace corio::detail
