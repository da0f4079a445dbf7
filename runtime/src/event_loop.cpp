// SPDX-License-Identifier: MIT
// event_loop over reactor: a map from descriptor to its callback.
#include <corio/event_loop.hpp>
#include <corio/reactor.hpp>

#include <atomic>
#include <exception>
#include <unordered_map>
#include <vector>

namespace corio {

struct event_loop::impl {
    struct entry {
        int fd;
        interest want;
        token tok;
        handler fn;
    };

    std::unique_ptr<reactor> r;
    std::unordered_map<int, std::unique_ptr<entry>> entries;
    // Removed during a dispatch, when their callback may be the one running; freed after it.
    std::vector<std::unique_ptr<entry>> retired;
    bool dispatching = false;
    // A stop() request not yet used up by a run(): set by stop(), taken by the run() it ends.
    std::atomic<bool> stop_requested{false};

    static void dispatch(void* ctx, readiness events) noexcept {
        auto* e = static_cast<entry*>(ctx);
        // Hang-up and error come with both directions (readiness_from_poll, EPOLLHUP): keep
        // only the watched ones, so a handler sees the same bits on every backend. An event
        // fetched before an earlier handler of the batch changed the interest may keep none.
        const auto watched = static_cast<std::uint8_t>(e->want);
        if ((events.bits & watched) == 0) {
            return;
        }
        events.bits &= static_cast<std::uint8_t>(watched | readiness::hangup | readiness::error);
        e->fn(e->fd, events);  // an exception here terminates: documented on handler
    }
};

result<event_loop> event_loop::open(std::string_view backend) {
    auto r = reactor::open(backend);
    if (!r) {
        return r.error();
    }
    auto p = std::make_unique<impl>();
    p->r = std::move(*r);
    return event_loop(std::move(p));
}

event_loop::event_loop(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
event_loop::event_loop(event_loop&&) noexcept = default;
event_loop& event_loop::operator=(event_loop&&) noexcept = default;
event_loop::~event_loop() {
    if (!impl_) {
        return;
    }
    for (auto& [fd, e] : impl_->entries) {
        (void)impl_->r->remove(e->tok);
    }
}

result<void> event_loop::add(int fd, interest want, handler h) {
    if (!h) {
        return std::errc::invalid_argument;
    }
    if (impl_->entries.contains(fd)) {
        return std::errc::file_exists;
    }
    auto e = std::make_unique<impl::entry>(impl::entry{fd, want, {}, std::move(h)});
    // Level-triggered on every backend, as event_loop.hpp promises: a handler may read part.
    auto t = impl_->r->add(fd, want, &impl::dispatch, e.get(), trigger::level);
    if (!t) {
        return t.error();
    }
    e->tok = *t;
    impl_->entries.emplace(fd, std::move(e));
    return {};
}

result<void> event_loop::modify(int fd, interest want) {
    auto it = impl_->entries.find(fd);
    if (it == impl_->entries.end()) {
        return std::errc::no_such_file_or_directory;
    }
    if (auto r = impl_->r->modify(it->second->tok, want); !r) {
        return r;
    }
    it->second->want = want;
    return {};
}

result<void> event_loop::remove(int fd) {
    auto it = impl_->entries.find(fd);
    if (it == impl_->entries.end()) {
        return std::errc::no_such_file_or_directory;
    }
    auto r = impl_->r->remove(it->second->tok);
    std::unique_ptr<impl::entry> gone = std::move(it->second);
    impl_->entries.erase(it);
    if (impl_->dispatching) {
        impl_->retired.push_back(std::move(gone));
    }
    // Otherwise freed here, after the map no longer has it: its captures' destructors may
    // call back into the loop.
    return r;
}

result<std::size_t> event_loop::run_once(std::optional<std::chrono::nanoseconds> timeout) {
    const bool outer = impl_->dispatching;  // a handler may call run_once() itself
    impl_->dispatching = true;
    auto n = impl_->r->poll(timeout);
    impl_->dispatching = outer;
    if (!outer) {
        impl_->retired.clear();
    }
    return n;
}

result<void> event_loop::run() {
    // exchange, not a reset then a test: a stop() that came before this run() is not lost.
    while (!impl_->stop_requested.exchange(false, std::memory_order_acq_rel)) {
        if (auto n = run_once(std::nullopt); !n) {
            return n.error();
        }
    }
    return {};
}

void event_loop::stop() noexcept {
    impl_->stop_requested.store(true, std::memory_order_release);
    impl_->r->wake();
}

std::string_view event_loop::backend_name() const noexcept { return impl_->r->backend_name(); }
std::size_t event_loop::size() const noexcept { return impl_->entries.size(); }

}  // namespace corio
