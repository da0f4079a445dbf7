// SPDX-License-Identifier: MIT
// The poll backend: level-triggered, no descriptor limit, O(registered) per wait.
#include "backend/backend.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace corio::detail {
namespace {

std::error_code os_error(int e) {
    return {e, std::system_category()};
}
std::error_code last_error() {
    return os_error(errno);
}

constexpr std::uint32_t absent = ~std::uint32_t{0};

#ifdef POLLRDHUP
constexpr short read_events = POLLIN | POLLRDHUP;  // a half-close, as epoll's EPOLLRDHUP
#else
constexpr short read_events = POLLIN;
#endif

class poll_backend final : public backend {
public:
    poll_backend(int wake_rd, int wake_wr) : wake_wr_(wake_wr) {
        fds_.push_back({wake_rd, POLLIN, 0});  // entry 0 is always the wake-up pipe
        tokens_.push_back(0);
    }
    ~poll_backend() override {
        ::close(fds_[0].fd);
        ::close(wake_wr_);
    }

    std::string_view name() const noexcept override { return "poll"; }
    bool edge_triggered() const noexcept override { return false; }

    result<void> add(int fd, interest want, std::uint64_t token, trigger mode) override {
        if (fd < 0) {
            return os_error(EBADF);
        }
        if (find(fd) != absent || fd == fds_[0].fd || fd == wake_wr_) {
            return os_error(EEXIST);  // as epoll_ctl(EPOLL_CTL_ADD) says
        }
        // poll() would only report POLLNVAL on every wait: refuse a closed descriptor now.
        if (::fcntl(fd, F_GETFD) < 0) {
            return last_error();
        }
        if (static_cast<std::size_t>(fd) >= index_.size()) {
            index_.resize(static_cast<std::size_t>(fd) + 1, absent);
        }
        fds_.push_back({watched(fd, want, mode), events_for(want), 0});
        tokens_.push_back(token);
        index_[fd] = static_cast<std::uint32_t>(fds_.size() - 1);
        return {};
    }

    result<void> modify(int fd, interest want, std::uint64_t token, trigger mode) override {
        const std::uint32_t i = find(fd);
        if (i == absent) {
            return os_error(ENOENT);  // as EPOLL_CTL_MOD says
        }
        fds_[i].fd = watched(fd, want, mode);
        fds_[i].events = events_for(want);
        tokens_[i] = token;
        return {};
    }

    result<void> remove(int fd) override {
        const std::uint32_t i = find(fd);
        if (i == absent) {
            return {};  // never added: what the caller wanted anyway
        }
        // Swap-remove: the last entry takes the hole, so the vectors stay dense.
        const std::uint32_t last = static_cast<std::uint32_t>(fds_.size() - 1);
        if (i != last) {
            fds_[i] = fds_[last];
            tokens_[i] = tokens_[last];
            index_[real_fd(fds_[i].fd)] = i;
        }
        fds_.pop_back();
        tokens_.pop_back();
        index_[fd] = absent;
        return {};
    }

    result<std::size_t> wait(std::span<ready_event> out,
                             std::optional<std::chrono::nanoseconds> timeout) override {
        int n = wait_raw(timeout);
        if (n < 0) {
            return errno == EINTR ? result<std::size_t>(std::size_t{0}) : last_error();
        }
        if (n > 0 && fds_[0].revents != 0) {
            drain_wake_pipe();
            --n;
        }
        // Resume where a full `out` stopped the last scan, so the first entries cannot starve
        // the others when more are ready than fit in one batch.
        const std::size_t users = fds_.size() - 1;
        if (next_ >= users) {
            next_ = 0;
        }
        std::size_t count = 0;
        for (std::size_t k = 0; k < users && n > 0; ++k) {
            const std::size_t i = 1 + (next_ + k) % users;
            if (fds_[i].revents == 0) {
                continue;
            }
            if (count == out.size()) {
                next_ = i - 1;  // level-triggered: reported again, first, next time
                return count;
            }
            --n;
            out[count++] = {tokens_[i], readiness_from_poll(static_cast<unsigned short>(fds_[i].revents))};
        }
        next_ = 0;
        return count;
    }

    void wake() noexcept override {
        const char one = 1;
        // EAGAIN means the pipe is full, so a wake-up is already pending.
        [[maybe_unused]] ssize_t r = ::write(wake_wr_, &one, 1);
    }

private:
    std::uint32_t find(int fd) const noexcept {
        return fd >= 0 && static_cast<std::size_t>(fd) < index_.size() ? index_[fd] : absent;
    }

    /// What pollfd::fd holds. A native registration with no interest stays watched (like
    /// epoll, hang-up and error are still reported); a level one is hidden from poll(2), which
    /// skips a negative fd, so that it reports nothing (else POLLHUP on every wait).
    static int watched(int fd, interest want, trigger mode) noexcept {
        return mode == trigger::level && want == interest::none ? ~fd : fd;
    }
    static int real_fd(int watched_fd) noexcept { return watched_fd < 0 ? ~watched_fd : watched_fd; }

    static short events_for(interest want) noexcept {
        short e = 0;
        if (contains(want, interest::read)) {
            e |= read_events;
        }
        if (contains(want, interest::write)) {
            e |= POLLOUT;
        }
        return e;
    }

    int wait_raw(std::optional<std::chrono::nanoseconds> timeout) {
        const auto nfds = static_cast<nfds_t>(fds_.size());
        if (!timeout) {
            return ::poll(fds_.data(), nfds, -1);
        }
        const auto ns = std::max<std::int64_t>(timeout->count(), 0);
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
        const timespec ts{static_cast<time_t>(ns / 1'000'000'000),
                          static_cast<long>(ns % 1'000'000'000)};
        return ::ppoll(fds_.data(), nfds, &ts, nullptr);
#else
        // No ppoll: round up to milliseconds so a timer is never woken for early.
        const auto ms = ns / 1'000'000 + (ns % 1'000'000 != 0);
        return ::poll(fds_.data(), nfds, static_cast<int>(std::min<std::int64_t>(ms, INT32_MAX)));
#endif
    }

    void drain_wake_pipe() noexcept {
        char buf[64];
        while (::read(fds_[0].fd, buf, sizeof buf) == static_cast<ssize_t>(sizeof buf)) {
        }
    }

    std::vector<pollfd> fds_;            // [0] is the wake-up pipe, then one per descriptor
    std::vector<std::uint64_t> tokens_;  // parallel to fds_
    std::vector<std::uint32_t> index_;   // descriptor -> position in fds_, or `absent`
    int wake_wr_;
    std::size_t next_ = 0;
};

}  // namespace

result<std::unique_ptr<backend>> open_poll() {
    int fds[2];
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        return last_error();
    }
#else
    if (::pipe(fds) != 0) {
        return last_error();
    }
    for (int fd : fds) {
        (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
        (void)::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
#endif
    return std::unique_ptr<backend>(new poll_backend(fds[0], fds[1]));
}

}  // namespace corio::detail
