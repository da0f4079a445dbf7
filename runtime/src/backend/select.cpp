// SPDX-License-Identifier: MIT
// The select backend: level-triggered, portable, limited to descriptors below FD_SETSIZE.
#include "backend/backend.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <vector>

#include <fcntl.h>
#include <sys/select.h>
#include <unistd.h>

namespace corio::detail {
namespace {

std::error_code os_error(int e) {
    return {e, std::system_category()};
}
std::error_code last_error() {
    return os_error(errno);
}

/// A non-blocking, close-on-exec pipe: [0] is watched by wait(), [1] is written by wake().
result<void> open_wake_pipe(int fds[2]) {
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        return last_error();
    }
#else
    if (::pipe(fds) != 0) {
        return last_error();
    }
    for (int i = 0; i < 2; ++i) {
        (void)::fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        (void)::fcntl(fds[i], F_SETFL, ::fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
#endif
    return {};
}

class select_backend final : public backend {
public:
    select_backend(int wake_rd, int wake_wr)
        : wake_rd_(wake_rd), wake_wr_(wake_wr), max_fd_(wake_rd), entries_(FD_SETSIZE) {
        FD_ZERO(&read_set_);
        FD_ZERO(&write_set_);
        FD_SET(wake_rd_, &read_set_);
    }
    ~select_backend() override {
        ::close(wake_rd_);
        ::close(wake_wr_);
    }

    std::string_view name() const noexcept override { return "select"; }
    bool edge_triggered() const noexcept override { return false; }

    // Level-triggered already, and an unwatched direction is not reported: `trigger` changes
    // nothing here.
    result<void> add(int fd, interest want, std::uint64_t token, trigger) override {
        if (auto r = check_range(fd); !r) {
            return r;
        }
        if (entries_[fd].used || fd == wake_rd_ || fd == wake_wr_) {
            return os_error(EEXIST);  // as epoll_ctl(EPOLL_CTL_ADD) says
        }
        // select() itself would only fail later, for every descriptor at once: ask now.
        if (::fcntl(fd, F_GETFD) < 0) {
            return last_error();
        }
        entries_[fd] = {token, true};
        apply(fd, want);
        max_fd_ = std::max(max_fd_, fd);
        return {};
    }

    result<void> modify(int fd, interest want, std::uint64_t token, trigger) override {
        if (auto r = check_range(fd); !r) {
            return r;
        }
        if (!entries_[fd].used) {
            return os_error(ENOENT);  // as EPOLL_CTL_MOD says
        }
        entries_[fd].token = token;
        apply(fd, want);
        return {};
    }

    result<void> remove(int fd) override {
        if (fd < 0 || fd >= FD_SETSIZE || !entries_[fd].used) {
            return {};  // never added: what the caller wanted anyway
        }
        apply(fd, interest::none);
        entries_[fd] = {};
        // wake_rd_ is always watched, so it bounds the search from below.
        while (max_fd_ != wake_rd_ && !entries_[max_fd_].used) {
            --max_fd_;
        }
        return {};
    }

    result<std::size_t> wait(std::span<ready_event> out,
                             std::optional<std::chrono::nanoseconds> timeout) override {
        // select() overwrites its sets with the answer, so it is given copies of the interest.
        fd_set rd = read_set_;
        fd_set wr = write_set_;
        timeval tv{};
        if (timeout) {
            // Round up to whole microseconds so a timer is never woken for early.
            const auto ns = std::max<std::int64_t>(timeout->count(), 0);
            const auto us = ns / 1000 + (ns % 1000 != 0);  // (ns + 999) could overflow
            tv.tv_sec = static_cast<time_t>(us / 1'000'000);
            tv.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
        }
        int n = ::select(max_fd_ + 1, &rd, &wr, nullptr, timeout ? &tv : nullptr);
        std::size_t count = 0;
        if (n < 0) {
            if (errno == EINTR) {
                return std::size_t{0};
            }
            if (errno != EBADF) {
                return last_error();
            }
            // A watched descriptor was closed without remove(). select() does not say which,
            // so find them, report each as readable + writable + error (its waiter retries and
            // learns EBADF), and ask again, without waiting, about all the others.
            rd = read_set_;
            wr = write_set_;
            count = report_closed(rd, wr, out);
            if (count == 0) {
                return std::size_t{0};  // closed and reused since: the next wait sees it
            }
            timeval zero{};
            n = ::select(max_fd_ + 1, &rd, &wr, nullptr, &zero);
            if (n < 0) {
                return count;  // the closed ones are reported; the rest next time
            }
        }
        if (n > 0 && FD_ISSET(wake_rd_, &rd)) {
            drain_wake_pipe();
            --n;
        }
        return collect(rd, wr, n, out, count);
    }

    void wake() noexcept override {
        const char one = 1;
        // EAGAIN means the pipe is full, so a wake-up is already pending.
        [[maybe_unused]] ssize_t r = ::write(wake_wr_, &one, 1);
    }

private:
    struct entry {
        std::uint64_t token = 0;
        bool used = false;
    };

    static result<void> check_range(int fd) {
        if (fd < 0) {
            return os_error(EBADF);
        }
        if (fd >= FD_SETSIZE) {
            return errc::fd_set_overflow;  // FD_SET would write past the end of the fd_set
        }
        return {};
    }

    void apply(int fd, interest want) noexcept {
        if (contains(want, interest::read)) {
            FD_SET(fd, &read_set_);
        } else {
            FD_CLR(fd, &read_set_);
        }
        if (contains(want, interest::write)) {
            FD_SET(fd, &write_set_);
        } else {
            FD_CLR(fd, &write_set_);
        }
    }

    /// Reports every watched descriptor that is no longer open and takes it out of rd/wr.
    std::size_t report_closed(fd_set& rd, fd_set& wr, std::span<ready_event> out) noexcept {
        std::size_t count = 0;
        for (int fd = 0; fd <= max_fd_; ++fd) {
            if (fd == wake_rd_ || !(FD_ISSET(fd, &rd) || FD_ISSET(fd, &wr))) {
                continue;
            }
            if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF) {
                continue;
            }
            FD_CLR(fd, &rd);
            FD_CLR(fd, &wr);
            if (count < out.size()) {
                readiness r;
                r.bits = readiness::readable | readiness::writable | readiness::error;
                out[count++] = {entries_[fd].token, r};
            }
        }
        return count;
    }

    /// Translates the `ready` descriptors left in rd/wr into events. The scan resumes where a
    /// full `out` stopped it last time, so low descriptors cannot starve high ones.
    std::size_t collect(const fd_set& rd, const fd_set& wr, int ready, std::span<ready_event> out,
                        std::size_t count) noexcept {
        if (next_ > max_fd_) {
            next_ = 0;
        }
        const int span = max_fd_ + 1;
        for (int i = 0; i < span && ready > 0; ++i) {
            const int fd = (next_ + i) % span;
            if (fd == wake_rd_) {
                continue;
            }
            readiness r;
            if (FD_ISSET(fd, &rd)) {
                r.bits |= readiness::readable;
                --ready;
            }
            if (FD_ISSET(fd, &wr)) {
                r.bits |= readiness::writable;
                --ready;
            }
            if (r.bits == 0) {
                continue;
            }
            if (count == out.size()) {
                next_ = fd;  // level-triggered: it is reported again, first, next time
                return count;
            }
            out[count++] = {entries_[fd].token, r};
        }
        next_ = 0;
        return count;
    }

    void drain_wake_pipe() noexcept {
        char buf[64];
        while (::read(wake_rd_, buf, sizeof buf) == static_cast<ssize_t>(sizeof buf)) {
        }
    }

    int wake_rd_;
    int wake_wr_;
    int max_fd_;
    int next_ = 0;
    fd_set read_set_;
    fd_set write_set_;
    std::vector<entry> entries_;  // indexed by descriptor, FD_SETSIZE of them
};

}  // namespace

result<std::unique_ptr<backend>> open_select() {
    int fds[2];
    if (auto r = open_wake_pipe(fds); !r) {
        return r.error();
    }
    if (fds[0] >= FD_SETSIZE) {
        ::close(fds[0]);
        ::close(fds[1]);
        return errc::fd_set_overflow;  // even the wake-up pipe cannot be watched
    }
    return std::unique_ptr<backend>(new select_backend(fds[0], fds[1]));
}

}  // namespace corio::detail
