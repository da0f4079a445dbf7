// SPDX-License-Identifier: MIT
// The kqueue backend: edge-triggered (EV_CLEAR) read and write filters. The system kqueue on
// BSD and macOS; on Linux only against libkqueue (CORIO_WITH_KQUEUE), for tests.
#include "backend/backend.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <utility>

#include <fcntl.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

namespace corio::detail {
namespace {

static_assert(sizeof(void*) >= sizeof(std::uint64_t),
              "the kqueue backend keeps the 64-bit token in kevent::udata");

std::error_code os_error(int e) {
    return {e, std::system_category()};
}
std::error_code last_error() {
    return os_error(errno);
}

constexpr uintptr_t wake_ident = 0;
constexpr int max_batch = 256;

void* to_udata(std::uint64_t token) noexcept {
    return reinterpret_cast<void*>(static_cast<std::uintptr_t>(token));
}
std::uint64_t to_token(const struct kevent& ev) noexcept {
    return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(ev.udata));
}

class kqueue_backend final : public backend {
public:
    explicit kqueue_backend(int kq) : kq_(kq) {}
    ~kqueue_backend() override { ::close(kq_); }

    std::string_view name() const noexcept override { return "kqueue"; }
    bool edge_triggered() const noexcept override { return true; }

    result<void> add(int fd, interest want, std::uint64_t token, trigger mode) override {
        if (fd < 0) {
            return os_error(EBADF);
        }
        if (want == interest::none && ::fcntl(fd, F_GETFD) < 0) {
            return last_error();  // no filter to add, so kevent would not have checked fd
        }
        auto r = change(fd, want, token, false, mode);
        if (!r) {
            (void)remove(fd);  // one filter may have been added before the other failed
        }
        return r;
    }

    result<void> modify(int fd, interest want, std::uint64_t token, trigger mode) override {
        // Rebuilt, not edited in place, so the filters are always added in change()'s order.
        return change(fd, want, token, true, mode);
    }

    result<void> remove(int fd) override {
        return change(fd, interest::none, 0, true, trigger::native);
    }

    result<std::size_t> wait(std::span<ready_event> out,
                             std::optional<std::chrono::nanoseconds> timeout) override {
        struct kevent evs[max_batch];
        const int cap = static_cast<int>(std::min<std::size_t>(out.size(), max_batch));
        timespec ts{};
        if (timeout) {
            const auto ns = std::max<std::int64_t>(timeout->count(), 0);
            ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
            ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
        }
        const int n = ::kevent(kq_, nullptr, 0, evs, cap, timeout ? &ts : nullptr);
        if (n < 0) {
            return errno == EINTR ? result<std::size_t>(std::size_t{0}) : last_error();
        }
        std::size_t count = 0;
        for (int i = 0; i < n; ++i) {
            const struct kevent& ev = evs[i];
            if (ev.filter == EVFILT_USER) {
                continue;  // wake(): EV_CLEAR has already reset it
            }
            out[count++] = {to_token(ev), translate(ev)};
        }
        return count;
    }

    void wake() noexcept override {
        struct kevent ev;
        EV_SET(&ev, wake_ident, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
        [[maybe_unused]] int r = ::kevent(kq_, &ev, 1, nullptr, 0, nullptr);
    }

private:
    /// Adds the filters in `want` (EV_CLEAR, edge-triggered, for trigger::native), after
    /// deleting both when `replace`. EV_RECEIPT returns one result per change, in order, so the
    /// caller gets the first error (deleting a filter that is not there is not one).
    result<void> change(int fd, interest want, std::uint64_t token, bool replace, trigger mode) {
        const unsigned short clear = mode == trigger::native ? EV_CLEAR : 0;
        struct kevent changes[4];
        int n = 0;
        const auto fd_ident = static_cast<uintptr_t>(fd);
        if (replace) {
            EV_SET(&changes[n++], fd_ident, EVFILT_READ, EV_DELETE | EV_RECEIPT, 0, 0, nullptr);
            EV_SET(&changes[n++], fd_ident, EVFILT_WRITE, EV_DELETE | EV_RECEIPT, 0, 0, nullptr);
        }
        // Write before read. libkqueue (Linux) keeps one epoll registration per fd, and each
        // change rebuilds it from the filter being changed: the others keep only their
        // EPOLLIN/EPOLLOUT. A read filter added before the write filter, or left behind by a
        // delete, loses EPOLLRDHUP (then no EV_EOF comes with data that arrived with the FIN)
        // or even EPOLLET. Harmless on BSD, where the order does not matter.
        for (auto [dir, filter] :
             {std::pair{interest::write, EVFILT_WRITE}, std::pair{interest::read, EVFILT_READ}}) {
            if (contains(want, dir)) {
                EV_SET(&changes[n++], fd_ident, filter, EV_ADD | clear | EV_RECEIPT, 0, 0,
                       to_udata(token));
            }
        }
        if (n == 0) {
            return {};
        }
        return submit(changes, n);
    }

    /// Applies up to 4 changes with EV_RECEIPT in one call.
    result<void> submit(const struct kevent* changes, int n) {
        struct kevent receipts[4];
        const timespec zero{};
        const int got = ::kevent(kq_, changes, n, receipts, n, &zero);
        if (got < 0) {
            return last_error();
        }
        for (int i = 0; i < got; ++i) {
            if (!(receipts[i].flags & EV_ERROR) || receipts[i].data == 0) {
                continue;
            }
            const int e = static_cast<int>(receipts[i].data);
            // ENOENT: that filter was not added; EBADF: already closed (which removed it on BSD).
            if ((changes[i].flags & EV_DELETE) && (e == ENOENT || e == EBADF)) {
                continue;
            }
            return os_error(e);
        }
        return {};
    }

    static readiness translate(const struct kevent& ev) noexcept {
        readiness r;
        if (ev.flags & EV_ERROR) {
            // Only changes produce EV_ERROR and wait() submits none, but never drop it: the
            // waiter's retried system call reports the real error.
            r.bits = readiness::readable | readiness::writable | readiness::error;
            return r;
        }
        r.bits = ev.filter == EVFILT_WRITE ? readiness::writable : readiness::readable;
        if (ev.flags & EV_EOF) {
            // Read filter: the peer closed its end; write filter: it stopped reading.
            r.bits |= readiness::hangup;
            if (ev.fflags != 0) {
                // A pending socket error rides on EV_EOF in fflags. libkqueue read it with
                // getsockopt(SO_ERROR), which cleared it, so the retried call may not see it.
                r.bits |= readiness::error | readiness::readable | readiness::writable;
            }
        }
        return r;
    }

    int kq_;
};

}  // namespace

result<std::unique_ptr<backend>> open_kqueue() {
    const int kq = ::kqueue();
    if (kq < 0) {
        return last_error();
    }
    (void)::fcntl(kq, F_SETFD, FD_CLOEXEC);
    struct kevent ev;
    EV_SET(&ev, wake_ident, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    if (::kevent(kq, &ev, 1, nullptr, 0, nullptr) != 0) {
        auto e = last_error();
        ::close(kq);
        return e;
    }
    return std::unique_ptr<backend>(new kqueue_backend(kq));
}

}  // namespace corio::detail
