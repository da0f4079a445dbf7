// SPDX-License-Identifier: MIT
// wait_signal: a handler writes the signal number into each interested waiter's pipe.
#include <corio/io_handle.hpp>
#include <corio/signal.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <mutex>

#include <fcntl.h>
#include <unistd.h>

namespace corio {
namespace {

constexpr int max_listeners = 64;
constexpr int max_signal = 64;

// Read by the signal handler, so only lock-free atomics: a listener's write end and the set
// of signals it wants. Published (mask last) and retired (mask first) by wait_signal.
struct listener {
    std::atomic<int> fd{-1};
    std::atomic<std::uint64_t> mask{0};
};
std::array<listener, max_listeners> listeners;

std::mutex install_mutex;                    // serialises claiming slots and sigaction changes
std::array<int, max_signal + 1> watch_count{};  // pending waits per signal
std::array<struct sigaction, max_signal + 1> previous{};

void on_signal(int signo) {
    const int saved = errno;
    const auto bit = std::uint64_t{1} << (signo - 1);
    const auto byte = static_cast<unsigned char>(signo);
    for (auto& l : listeners) {
        if (l.mask.load(std::memory_order_acquire) & bit) {
            const int fd = l.fd.load(std::memory_order_acquire);
            if (fd >= 0) {
                [[maybe_unused]] ssize_t r = ::write(fd, &byte, 1);
            }
        }
    }
    errno = saved;
}

std::error_code last_error() { return {errno, std::system_category()}; }

// Drops one pending wait from each signal in `mask`, restoring the previous disposition of
// those no wait is left for. install_mutex must be held.
void release_signals(std::uint64_t mask) {
    for (int sig = 1; sig <= max_signal; ++sig) {
        if ((mask & (std::uint64_t{1} << (sig - 1))) && --watch_count[sig] == 0) {
            ::sigaction(sig, &previous[sig], nullptr);
        }
    }
}

// Claims a slot and installs handlers; returns the slot index.
result<int> subscribe(std::uint64_t mask, int write_fd) {
    std::lock_guard lock(install_mutex);
    int slot = -1;
    for (int i = 0; i < max_listeners; ++i) {
        if (listeners[i].fd.load() < 0) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        return std::errc::device_or_resource_busy;
    }
    for (int sig = 1; sig <= max_signal; ++sig) {
        if (!(mask & (std::uint64_t{1} << (sig - 1))) || watch_count[sig]++ > 0) {
            continue;
        }
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (::sigaction(sig, &sa, &previous[sig]) != 0) {
            auto e = last_error();
            --watch_count[sig];
            // Undo the signals below this one, or their handlers would stay installed for good.
            release_signals(mask & ((std::uint64_t{1} << (sig - 1)) - 1));
            return e;
        }
    }
    listeners[slot].fd.store(write_fd, std::memory_order_release);
    listeners[slot].mask.store(mask, std::memory_order_release);
    return slot;
}

void unsubscribe(int slot) {
    std::lock_guard lock(install_mutex);
    const std::uint64_t mask = listeners[slot].mask.exchange(0, std::memory_order_acq_rel);
    listeners[slot].fd.store(-1, std::memory_order_release);
    release_signals(mask);
}

}  // namespace

void signal_set::add(int s) noexcept {
    if (s == 0) {
        return;  // an unused slot of the braced list
    }
    if (s < 1 || s > max_signal || s == SIGKILL || s == SIGSTOP) {
        valid_ = false;
        return;
    }
    mask_ |= std::uint64_t{1} << (s - 1);
}

task<result<int>> wait_signal(signal_set signals, std::stop_token token) {
    const std::uint64_t mask = signals.mask();
    if (mask == 0) {
        co_return std::errc::invalid_argument;
    }
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        co_return last_error();
    }
    io_handle reader(fds[0]);
    io_handle writer(fds[1]);
    auto slot = subscribe(mask, fds[1]);
    if (!slot) {
        co_return slot.error();
    }
    struct unsubscribe_guard {
        int slot;
        ~unsubscribe_guard() { unsubscribe(slot); }
    } guard{*slot};
    std::byte signo{};
    auto n = co_await reader.read({&signo, 1}, std::move(token));
    if (!n) {
        co_return n.error();
    }
    co_return static_cast<int>(signo);
}

}  // namespace corio
