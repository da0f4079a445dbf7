// SPDX-License-Identifier: MIT
// The epoll backend, level- or edge-triggered (chosen when opened).
#include "backend/backend.hpp"

#include <cerrno>
#include <cstdint>
#include <ctime>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace corio::detail {
namespace {

constexpr std::uint64_t wake_token = ~std::uint64_t{0};
constexpr int max_batch = 256;

std::error_code last_error() { return {errno, std::system_category()}; }

class epoll_backend final : public backend {
public:
    epoll_backend(int epfd, int wakefd, bool et) : epfd_(epfd), wakefd_(wakefd), et_(et) {}
    ~epoll_backend() override {
        ::close(wakefd_);
        ::close(epfd_);
    }

    std::string_view name() const noexcept override { return et_ ? "epoll-et" : "epoll"; }
    bool edge_triggered() const noexcept override { return et_; }

    result<void> add(int fd, interest want, std::uint64_t token, trigger mode) override {
        if (auto r = control(EPOLL_CTL_ADD, fd, want, token, mode); !r || !unwatched(want, mode)) {
            return r;
        }
        // Added only for epoll_ctl's verdict on fd (EBADF, EPERM), then taken out again.
        return remove(fd);
    }
    result<void> modify(int fd, interest want, std::uint64_t token, trigger mode) override {
        if (unwatched(want, mode)) {
            return remove(fd);
        }
        auto r = control(EPOLL_CTL_MOD, fd, want, token, mode);
        if (!r && mode == trigger::level && r.error() == std::errc::no_such_file_or_directory) {
            return control(EPOLL_CTL_ADD, fd, want, token, mode);  // it had interest::none
        }
        return r;
    }
    result<void> remove(int fd) override {
        // A non-null event pointer keeps kernels before 2.6.9 happy; ENOENT means it was
        // never added or the fd is already closed, which is what the caller wanted anyway.
        epoll_event ev{};
        if (::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev) != 0 && errno != ENOENT && errno != EBADF) {
            return last_error();
        }
        return {};
    }

    result<std::size_t> wait(std::span<ready_event> out,
                             std::optional<std::chrono::nanoseconds> timeout) override {
        epoll_event evs[max_batch];
        const int cap = static_cast<int>(std::min<std::size_t>(out.size(), max_batch));
        const int n = wait_raw(evs, cap, timeout);
        if (n < 0) {
            return errno == EINTR ? result<std::size_t>(std::size_t{0}) : last_error();
        }
        std::size_t count = 0;
        for (int i = 0; i < n; ++i) {
            if (evs[i].data.u64 == wake_token) {
                std::uint64_t drained;
                [[maybe_unused]] ssize_t r = ::read(wakefd_, &drained, sizeof drained);
                continue;
            }
            out[count++] = {evs[i].data.u64, translate(evs[i].events)};
        }
        return count;
    }

    void wake() noexcept override {
        const std::uint64_t one = 1;
        [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
    }

private:
    /// A level registration with no interest is kept out of the set: epoll reports EPOLLHUP
    /// and EPOLLERR whatever is asked, and level-triggered it would on every wait.
    static bool unwatched(interest want, trigger mode) noexcept {
        return mode == trigger::level && want == interest::none;
    }

    result<void> control(int op, int fd, interest want, std::uint64_t token, trigger mode) {
        epoll_event ev{};
        ev.events = et_ && mode == trigger::native ? EPOLLET : 0u;
        // EPOLLRDHUP only with read interest: the peer's half-close stays reported while level
        // triggered, so a writer parked alone would otherwise wake the loop on every wait.
        if (contains(want, interest::read)) {
            ev.events |= EPOLLIN | EPOLLRDHUP;
        }
        if (contains(want, interest::write)) {
            ev.events |= EPOLLOUT;
        }
        ev.data.u64 = token;
        if (::epoll_ctl(epfd_, op, fd, &ev) != 0) {
            return last_error();
        }
        return {};
    }

    int wait_raw(epoll_event* evs, int cap, std::optional<std::chrono::nanoseconds> timeout) {
        if (!timeout) {
            return ::epoll_wait(epfd_, evs, cap, -1);
        }
        const auto ns = std::max<std::int64_t>(timeout->count(), 0);
        if (have_pwait2_) {
            timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
            const int n = ::epoll_pwait2(epfd_, evs, cap, &ts, nullptr);
            if (n >= 0 || errno != ENOSYS) {
                return n;
            }
            have_pwait2_ = false;  // kernels before 5.11: fall back to millisecond timeouts
        }
        // Round up so a timer is never woken for early and then spun on.
        const auto ms = ns / 1'000'000 + (ns % 1'000'000 != 0);  // no overflow near INT64_MAX
        return ::epoll_wait(epfd_, evs, cap, static_cast<int>(std::min<std::int64_t>(ms, INT32_MAX)));
    }

    static readiness translate(std::uint32_t e) {
        readiness r;
        if (e & (EPOLLIN | EPOLLPRI)) {
            r.bits |= readiness::readable;
        }
        if (e & EPOLLOUT) {
            r.bits |= readiness::writable;
        }
        if (e & (EPOLLHUP | EPOLLRDHUP)) {
            r.bits |= readiness::hangup | readiness::readable;
        }
        if (e & EPOLLHUP) {
            r.bits |= readiness::writable;
        }
        if (e & EPOLLERR) {
            r.bits |= readiness::error | readiness::readable | readiness::writable;
        }
        return r;
    }

    int epfd_;
    int wakefd_;
    bool et_;
    bool have_pwait2_ = true;
};

}  // namespace

result<std::unique_ptr<backend>> open_epoll(bool edge_triggered) {
    const int epfd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        return last_error();
    }
    const int wakefd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakefd < 0) {
        auto e = last_error();
        ::close(epfd);
        return e;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: wait() drains it
    ev.data.u64 = wake_token;
    if (::epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) != 0) {
        auto e = last_error();
        ::close(wakefd);
        ::close(epfd);
        return e;
    }
    return std::unique_ptr<backend>(new epoll_backend(epfd, wakefd, edge_triggered));
}

}  // namespace corio::detail
