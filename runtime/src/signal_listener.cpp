// SPDX-License-Identifier: MIT
// signal_listener: process-wide handler, per-listener slots of pending bits, and the waits.
#include <corio/signal_listener.hpp>

#include <corio/error.hpp>
#include <corio/io_handle.hpp>

#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

namespace corio {
namespace {

constexpr int max_listeners = 64;
constexpr int max_signal = 64;  // signal_set holds signal n in bit n-1 of a 64-bit mask

// The signal handler may touch nothing but these (POSIX allows only lock-free atomics there).
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<int>::is_always_lock_free);

// One listener's subscription, read by the handler. The handler and retire() follow one
// protocol: the handler raises in_handler before it reads `wanted` and lowers it after its last
// use of wake_fd; retire() clears `wanted` and wake_fd before it waits for in_handler to be 0.
// All of it is sequentially consistent, so either the handler sees the cleared fields or retire
// sees it inside and waits: a descriptor is never closed while a handler may still write to it.
struct slot {
    std::atomic<std::uint64_t> wanted{0};   // signals the listener holds; 0 when free or retired
    std::atomic<std::uint64_t> pending{0};  // delivered, not yet taken: the handler sets bits,
                                            // only the listener's wait/try_wait clears them
    std::atomic<int> wake_fd{-1};           // write end of the listener's pipe, or -1
    std::atomic<int> in_handler{0};         // handlers between reading `wanted` and writing
    bool claimed = false;                   // guarded by install_mutex
};
// Statics with trivial destructors: a handler that runs during exit still finds them intact.
std::array<slot, max_listeners> slots;

std::mutex install_mutex;                   // serialises slot claims and sigaction changes
std::array<int, max_signal + 1> holders{};  // listeners per signal; corio's handler is
                                            // installed exactly while this is non-zero
std::array<struct sigaction, max_signal + 1> previous{};  // what the first holder replaced

constexpr std::uint64_t bit_of(int sig) noexcept {
    return std::uint64_t{1} << (sig - 1);
}

void on_signal(int signo) {
    const int saved = errno;
    const std::uint64_t bit = bit_of(signo);
    const auto byte = static_cast<unsigned char>(signo);
    for (slot& s : slots) {
        if (!(s.wanted.load() & bit)) {
            continue;
        }
        s.in_handler.fetch_add(1);
        if (s.wanted.load() & bit) {  // again: retire() may have run since the first look
            s.pending.fetch_or(bit);  // before the wake-up, so the woken wait finds it
            if (const int fd = s.wake_fd.load(); fd >= 0) {
                // A full pipe (EAGAIN) is fine: it already holds a wake-up.
                [[maybe_unused]] const ssize_t n = ::write(fd, &byte, 1);
            }
        }
        s.in_handler.fetch_sub(1);
    }
    errno = saved;
}

std::error_code last_error() {
    return {errno, std::system_category()};
}

// Drops one holder from each signal in `mask`, restoring the disposition found by the first
// holder of those that have none left. install_mutex must be held.
void release_signals(std::uint64_t mask) {
    for (int sig = 1; sig <= max_signal; ++sig) {
        if ((mask & bit_of(sig)) && --holders[sig] == 0) {
            ::sigaction(sig, &previous[sig], nullptr);
        }
    }
}

// Adds a holder to each signal in `mask`, installing the handler for those that had none.
// On failure nothing is left changed. install_mutex must be held.
result<void> hold_signals(std::uint64_t mask) {
    for (int sig = 1; sig <= max_signal; ++sig) {
        if (!(mask & bit_of(sig)) || holders[sig]++ > 0) {
            continue;
        }
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;  // the program's blocking calls elsewhere see no EINTR
        sigemptyset(&sa.sa_mask);
        if (::sigaction(sig, &sa, &previous[sig]) != 0) {
            auto e = last_error();  // EINVAL: a signal the C library reserves (32, 33)
            --holders[sig];
            release_signals(mask & (bit_of(sig) - 1));
            return e;
        }
    }
    return {};
}

// Stops handlers from using slot `s`; on return none is inside it. install_mutex must be held.
std::uint64_t quiesce(slot& s) {
    const std::uint64_t mask = s.wanted.exchange(0);
    s.wake_fd.store(-1);
    while (s.in_handler.load() != 0) {
        std::this_thread::yield();  // a handler on another thread, a write(2) away from done
    }
    return mask;
}

// Claims a free slot for `mask`, with `wake_fd` to write to; returns its index.
result<int> subscribe(std::uint64_t mask, int wake_fd) {
    std::lock_guard lock(install_mutex);
    int index = 0;
    while (index < max_listeners && slots[index].claimed) {
        ++index;
    }
    if (index == max_listeners) {
        return std::errc::device_or_resource_busy;
    }
    slot& s = slots[index];
    // Published before the handler is installed, so no delivery after that is missed, and
    // `wanted` last, so a handler that sees it also sees the descriptor and no stale bits.
    s.pending.store(0);
    s.wake_fd.store(wake_fd);
    s.wanted.store(mask);
    if (auto held = hold_signals(mask); !held) {
        // Another listener's handler for a signal in `mask` may already be inside the slot,
        // and the caller closes `wake_fd` next.
        quiesce(s);
        return held.error();
    }
    s.claimed = true;
    return index;
}

// Frees slot `index`; on return no handler uses its descriptor any more.
void retire(int index) {
    std::lock_guard lock(install_mutex);
    slot& s = slots[index];
    const std::uint64_t mask = quiesce(s);
    s.claimed = false;
    release_signals(mask);
}

// The lowest pending signal of slot `index`, taken off its pending set.
std::optional<int> take_pending(int index) {
    slot& s = slots[index];
    const std::uint64_t p = s.pending.load();
    if (p == 0) {
        return std::nullopt;
    }
    const int sig = std::countr_zero(p) + 1;
    s.pending.fetch_and(~bit_of(sig));  // the handler only sets bits: this one is still set
    return sig;
}

}  // namespace

// A subscription's resources. Outlives the listener while a wait still runs on it.
struct signal_listener::state {
    int slot = -1;     // index into slots; -1 once the listener has closed
    io_handle reader;  // read end of the pipe the handler writes wake-ups to
    int writer = -1;   // write end, owned here and closed only after retire()
    bool waiting = false;
};

result<signal_listener> signal_listener::open(signal_set signals) {
    const std::uint64_t mask = signals.mask();
    if (mask == 0) {
        return std::errc::invalid_argument;
    }
    auto s = std::make_shared<state>();  // first: nothing to undo if it throws
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        return last_error();
    }
    s->reader = io_handle(fds[0]);
    s->writer = fds[1];
    auto index = subscribe(mask, fds[1]);
    if (!index) {
        ::close(fds[1]);
        return index.error();
    }
    s->slot = *index;
    return signal_listener(std::move(s));
}

signal_listener& signal_listener::operator=(signal_listener&& other) noexcept {
    if (this != &other) {
        close();
        state_ = std::move(other.state_);
    }
    return *this;
}

signal_listener::~signal_listener() {
    close();
}

void signal_listener::close() noexcept {
    if (!state_) {
        return;
    }
    retire(state_->slot);
    state_->slot = -1;
    ::close(state_->writer);
    state_->writer = -1;
    (void)state_->reader.close();  // a pending wait resumes with errc::closed
    state_.reset();
}

task<result<int>> signal_listener::wait(std::stop_token token) {
    if (!state_) {
        throw usage_error("corio::signal_listener: wait on an empty listener");
    }
    return wait_on(state_, std::move(token));
}

task<result<int>> signal_listener::wait_on(std::shared_ptr<state> s, std::stop_token token) {
    if (s->waiting) {
        throw usage_error("corio::signal_listener: a second concurrent wait on one listener");
    }
    s->waiting = true;
    struct waiting_guard {
        state& s;
        ~waiting_guard() { s.waiting = false; }
    } guard{*s};
    // Pending bits are the truth; the pipe only wakes us. A byte may outlive the bit it
    // announced (taken by an earlier wait or try_wait), so a wake-up is followed by a look at
    // the bits, and an empty look by another read.
    std::array<std::byte, 64> wakeups;
    for (;;) {
        if (s->slot < 0) {
            co_return errc::closed;
        }
        if (auto sig = take_pending(s->slot)) {
            co_return *sig;  // before the token: a delivery already made is never dropped
        }
        auto n = co_await s->reader.read(wakeups, token);
        if (!n) {
            co_return n.error();
        }
    }
}

result<int> signal_listener::try_wait() {
    if (!state_) {
        throw usage_error("corio::signal_listener: try_wait on an empty listener");
    }
    if (auto sig = take_pending(state_->slot)) {
        return *sig;
    }
    return std::errc::resource_unavailable_try_again;
}

}  // namespace corio
