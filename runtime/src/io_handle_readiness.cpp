// SPDX-License-Identifier: MIT
// io_handle, the readiness model: a wait parks in a reader or writer slot; the reactor's event
// (or, on io_uring, the wait's own one-shot poll) retries its system call and resumes it only
// once the call stops saying EAGAIN. Submitted operations (io_handle_completion.cpp) sit in
// other slots, which nothing here reads.
#include <corio/io_handle.hpp>

#include <corio/detail/scheduler.hpp>

namespace corio {

result<void> io_handle::park(detail::io_wait& w, interest dir, detail::scheduler& s) {
    check_free(dir);
    check_runtime(s);
    sched_ = &s;
    detail::io_wait*& slot = dir == interest::read ? reader_ : writer_;
    if (auto* port = s.io().completions()) {
        // io_uring: a one-shot poll owned by this wait, gone once it is done, so the handle
        // keeps nothing armed that nobody waits for. The registration watches nothing; it
        // only lets the runtime's teardown reach this handle (forget_runtime).
        if (!token_.valid()) {
            auto t = s.io().add(fd_, interest::none, &io_handle::on_event, this);
            if (!t) {
                return t.error();
            }
            token_ = *t;
        }
        occupy(slot, w, dir, s);
        port->poll(w, fd_, dir);
        return {};
    }
    // Edge-triggered backends watch both directions from the start and are never modified;
    // level-triggered ones watch only what someone waits for (else they report it forever).
    const interest want = s.io().edge_triggered() ? interest::read_write : (registered_ | dir);
    if (!token_.valid()) {
        auto t = s.io().add(fd_, want, &io_handle::on_event, this);
        if (!t) {
            return t.error();
        }
        token_ = *t;
        registered_ = want;
    } else if (want != registered_) {
        if (auto r = s.io().modify(token_, want); !r) {
            return r;
        }
        registered_ = want;
    }
    occupy(slot, w, dir, s);
    return {};
}

void io_handle::occupy(detail::io_wait*& slot, detail::io_wait& w, interest dir,
                       detail::scheduler& s) noexcept {
    slot = &w;
    w.owner = this;
    w.dir = dir;
    w.sched = &s;
    w.st = detail::waiter::state::parked;
    w.detach = [](detail::waiter& base) noexcept {
        auto& iw = static_cast<detail::io_wait&>(base);
        iw.owner->unpark(iw);
    };
}

void io_handle::unpark(detail::io_wait& w) noexcept {
    if (reader_ == &w) {
        reader_ = nullptr;
    } else if (writer_ == &w) {
        writer_ = nullptr;
    }
    if (w.poll) {
        w.sched->io().completions()->drop_poll(w);
    }
    w.owner = nullptr;
    w.st = detail::waiter::state::idle;
}

void io_handle::retry_after_poll(detail::io_wait& w) noexcept {
    // io_uring: nothing to do, the wait's one-shot poll reports a ready direction at once.
    if (token_.valid() && !sched_->io().completions()) {
        sched_->io().post(token_, readiness{static_cast<std::uint8_t>(w.dir)});
    }
}

void io_handle::finish(detail::io_wait*& slot) noexcept {
    detail::io_wait* w = slot;
    if (!w->attempt(*w)) {
        return;  // spurious readiness: the retry said EAGAIN, so stay parked
    }
    slot = nullptr;
    w->owner = nullptr;
    w->st = detail::waiter::state::scheduled;
    sched_->schedule(w->handle, w->root);
}

void io_handle::claim() noexcept {
    if (auto* s = detail::scheduler::current(); s && fd_ >= 0) {
        s->io().claim(fd_);
    }
}

void io_handle::orphan() noexcept {
    token_ = {};  // the reactor has removed the registration already
    registered_ = interest::none;
    // Submitted operations (io_uring) hold the old file, never the new one: they are cancelled
    // and resume with the same error (or with what the old file gave them meanwhile).
    wake_all(make_error_code(errc::stale_descriptor));
    backend_state_ = false;  // completion_port::evict drops the port's state for the number
    fd_ = -1;
    stale_ = true;
}

void io_handle::on_event(void* self_ptr, readiness r) noexcept {
    auto* self = static_cast<io_handle*>(self_ptr);
    if (r.is_stale()) {
        self->orphan();
        return;
    }
    self->ready_ |= r.bits & (readiness::readable | readiness::writable | readiness::hangup);
    const bool had_reader = self->reader_ != nullptr;
    const bool had_writer = self->writer_ != nullptr;
    if (r.is_readable() && self->reader_) {
        self->finish(self->reader_);
    }
    if (r.is_writable() && self->writer_) {
        self->finish(self->writer_);
    }
    if (!self->sched_->io().edge_triggered()) {
        self->drop_unwanted(r, had_reader, had_writer);
    }
}

void io_handle::drop_unwanted(readiness r, bool had_reader, bool had_writer) noexcept {
    // Level-triggered: a direction nobody waited for would be reported on every poll, so stop
    // watching it. Directions whose waiter just completed stay: the next wait re-parks soon,
    // and keeping them saves an epoll_ctl per message.
    interest want = registered_;
    if (r.is_readable() && !had_reader) {
        want = without(want, interest::read);
    }
    if (r.is_writable() && !had_writer) {
        want = without(want, interest::write);
    }
    if (want == registered_) {
        return;
    }
    if (want == interest::none || r.is_hangup() || r.is_error()) {
        // Hang-up and error are reported whatever the interest: only removal silences them.
        if (!reader_ && !writer_) {
            deregister();
            return;
        }
    }
    if (sched_->io().modify(token_, want)) {
        registered_ = want;
    }
}

bool detail::poll_ready(io_wait& w, readiness r) noexcept {
    io_handle* h = w.owner;
    h->ready_ |= r.bits & (readiness::readable | readiness::writable | readiness::hangup);
    if (!w.attempt(w)) {
        return false;  // spurious: the backend arms the poll again
    }
    (w.dir == interest::read ? h->reader_ : h->writer_) = nullptr;
    w.owner = nullptr;
    w.poll = nullptr;
    w.st = waiter::state::scheduled;
    w.sched->schedule(w.handle, w.root);
    return true;
}

}  // namespace corio
