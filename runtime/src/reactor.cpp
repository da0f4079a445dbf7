// SPDX-License-Identifier: MIT
// Slot table and dispatch of the reactor.
#include <corio/reactor.hpp>

#include "backend/backend.hpp"

namespace corio {
namespace {
// Large enough that a busy server drains its ready list in few waits; epoll_wait copies
// only what is ready, so a big buffer costs nothing when few fds are.
constexpr std::size_t event_batch = 256;
}  // namespace

result<std::unique_ptr<reactor>> reactor::open(std::string_view backend,
                                               const reactor_options& options) {
    const std::uint32_t n = options.io_uring_entries;
    if (n != 0 && (n < 2 || n > 32768 || (n & (n - 1)) != 0)) {
        return std::errc::invalid_argument;
    }
    auto b = detail::open_backend(backend, options);
    if (!b) {
        return b.error();
    }
    return std::unique_ptr<reactor>(new reactor(std::move(*b)));
}

reactor::reactor(std::unique_ptr<detail::backend> b)
    : backend_(std::move(b)),
      edge_triggered_(backend_->edge_triggered()),
      completions_(backend_->completions()),
      events_(new detail::ready_event[event_batch]) {}

reactor::~reactor() = default;

reactor::slot* reactor::find(token t) noexcept {
    if (t.slot >= slots_.size()) {
        return nullptr;
    }
    slot& s = slots_[t.slot];
    return s.generation == t.generation && (s.generation & 1) ? &s : nullptr;
}

void reactor::evict(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size() || by_fd_[fd] == 0) {
        return;
    }
    const std::uint32_t index = by_fd_[fd] - 1;
    const slot s = slots_[index];
    // The backend forgets the old registration: by its token on io_uring; by number on poll and
    // select, where it is the old one's entry; on epoll and kqueue the close already dropped it
    // (removing by number finds the new file unwatched and fails, which is ignored).
    (void)remove(token{index, s.generation});
    s.cb(s.context, readiness{readiness::stale | readiness::error});
}

void reactor::claim(int fd) noexcept {
    evict(fd);
    if (completions_) {
        completions_->evict(fd);
    }
}

result<token> reactor::add(int fd, interest want, callback cb, void* context, trigger mode) {
    evict(fd);
    std::uint32_t index;
    if (free_head_ != no_slot) {
        index = free_head_;
        free_head_ = slots_[index].next_free;
    } else {
        index = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    slot& s = slots_[index];
    s.generation += 1;  // even (free) -> odd (live)
    const token t{index, s.generation};
    if (auto r = backend_->add(fd, want, t.pack(), mode); !r) {
        s.generation += 1;
        s.next_free = free_head_;
        free_head_ = index;
        return r.error();
    }
    s.fd = fd;
    s.want = want;
    s.mode = mode;
    s.cb = cb;
    s.context = context;
    ++live_;
    if (fd >= 0) {
        if (static_cast<std::size_t>(fd) >= by_fd_.size()) {
            by_fd_.resize(static_cast<std::size_t>(fd) + 1);
        }
        by_fd_[fd] = index + 1;
    }
    return t;
}

result<void> reactor::modify(token t, interest want) {
    slot* s = find(t);
    if (!s) {
        return std::errc::invalid_argument;
    }
    if (s->want == want) {
        return {};
    }
    if (auto r = backend_->modify(s->fd, want, t.pack(), s->mode); !r) {
        return r;
    }
    s->want = want;
    return {};
}

void reactor::set_context(token t, void* context) noexcept {
    if (slot* s = find(t)) {
        s->context = context;
    }
}

result<void> reactor::remove(token t) {
    slot* s = find(t);
    if (!s) {
        return std::errc::invalid_argument;
    }
    auto r = backend_->remove(s->fd);
    if (s->fd >= 0 && by_fd_[s->fd] == t.slot + 1) {
        by_fd_[s->fd] = 0;
    }
    s->generation += 1;  // odd -> even: later events in this batch are dropped
    s->fd = -1;
    s->cb = nullptr;
    s->context = nullptr;
    s->next_free = free_head_;
    free_head_ = t.slot;
    --live_;
    return r;
}

result<std::size_t> reactor::poll(std::optional<std::chrono::nanoseconds> timeout) {
    if (!posted_.empty()) {
        timeout = std::chrono::nanoseconds(0);
    }
    auto n = backend_->wait({events_.get(), event_batch}, timeout);
    if (!n) {
        return n;
    }
    std::size_t dispatched = 0;
    for (std::size_t i = 0; i < *n; ++i) {
        const detail::ready_event& ev = events_[i];
        // Looked up per event: an earlier callback may have removed (or reused) this slot.
        if (slot* s = find(token::unpack(ev.token))) {
            s->cb(s->context, ev.events);
            ++dispatched;
        }
    }
    // Posted ones after the kernel's: a callback may post again, for the next poll.
    dispatching_.swap(posted_);
    for (const auto& [t, events] : dispatching_) {
        if (slot* s = find(t)) {
            s->cb(s->context, events);
            ++dispatched;
        }
    }
    dispatching_.clear();
    return dispatched;
}

void reactor::post(token t, readiness events) { posted_.emplace_back(t, events); }

void reactor::wake() noexcept { backend_->wake(); }
void reactor::attach_thread() { backend_->attach_thread(); }
std::string_view reactor::backend_name() const noexcept { return backend_->name(); }
reactor_stats reactor::stats() const noexcept { return backend_->stats(); }

}  // namespace corio
