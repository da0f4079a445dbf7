// SPDX-License-Identifier: MIT
// io_handle: lazy registration, readiness cache and the reactor callback.
#include <corio/io_handle.hpp>

#include <cerrno>
#include <utility>

#include <sys/socket.h>

namespace corio {

io_handle& io_handle::operator=(io_handle&& o) noexcept {
    if (this != &o) {
        (void)close();
        take(o);
    }
    return *this;
}

void io_handle::take(io_handle& o) noexcept {
    fd_ = std::exchange(o.fd_, -1);
    sched_ = std::exchange(o.sched_, nullptr);
    token_ = std::exchange(o.token_, {});
    registered_ = std::exchange(o.registered_, interest::none);
    backend_state_ = std::exchange(o.backend_state_, false);
    ready_ = std::exchange(o.ready_, readiness::readable | readiness::writable);
    reader_ = std::exchange(o.reader_, nullptr);
    writer_ = std::exchange(o.writer_, nullptr);
    if (token_.valid()) {
        sched_->io().set_context(token_, this);
    }
    for (auto* w : {reader_, writer_}) {
        if (w) {
            w->owner = this;
        }
    }
}

void io_handle::deregister() noexcept {
    if (token_.valid()) {
        (void)sched_->io().remove(token_);  // fails only for a stale token, which cannot be
        token_ = {};
    }
    registered_ = interest::none;
}

result<void> io_handle::close() noexcept {
    if (fd_ < 0) {
        return {};
    }
    return detail::sys_close(release());
}

int io_handle::release() noexcept {
    const auto closed = make_error_code(errc::closed);
    if (reader_) {
        sched_->wake_waiter(*reader_, closed);
    }
    if (writer_) {
        sched_->wake_waiter(*writer_, closed);
    }
    if (backend_state_ && token_.valid()) {  // token_ invalid: the runtime is already gone
        if (auto* port = sched_->io().completions()) {
            port->forget(fd_);
        }
    }
    backend_state_ = false;
    deregister();
    ready_ = readiness::readable | readiness::writable;
    return std::exchange(fd_, -1);
}

detail::io_wait*& io_handle::slot_for(interest dir) {
    detail::io_wait*& slot = dir == interest::read ? reader_ : writer_;
    if (slot) {
        throw usage_error(dir == interest::read
                              ? "corio::io_handle: a second concurrent read on one handle"
                              : "corio::io_handle: a second concurrent write on one handle");
    }
    return slot;
}

void io_handle::check_runtime(detail::scheduler& s) const {
    if (sched_ && sched_ != &s && (token_.valid() || reader_ || writer_)) {
        throw usage_error("corio::io_handle: handle used from a second runtime");
    }
}

result<void> io_handle::park(detail::io_wait& w, interest dir, detail::scheduler& s) {
    detail::io_wait*& slot = slot_for(dir);
    check_runtime(s);
    sched_ = &s;
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
    slot = &w;
    w.owner = this;
    w.dir = dir;
    w.sched = &s;
    w.st = detail::waiter::state::parked;
    w.detach = [](detail::waiter& base) noexcept {
        auto& iw = static_cast<detail::io_wait&>(base);
        iw.owner->unpark(iw);
    };
    return {};
}

result<void> io_handle::park(detail::completion& c, interest dir, detail::scheduler& s,
                             detail::completion_kind kind) {
    detail::io_wait*& slot = slot_for(dir);
    check_runtime(s);
    sched_ = &s;
    const bool multishot =
        kind == detail::completion_kind::accept || kind == detail::completion_kind::recv_pooled;
    if (multishot && !token_.valid()) {
        // The backend keeps a multishot accept or receive for this fd. A registration without
        // interest makes the runtime's teardown reach this handle (forget_runtime), so a
        // handle that outlives its runtime never calls into it.
        auto t = s.io().add(fd_, interest::none, &io_handle::on_event, this);
        if (!t) {
            return t.error();
        }
        token_ = *t;
    }
    backend_state_ = backend_state_ || multishot;
    slot = &c;
    c.owner = this;
    c.dir = dir;
    c.sched = &s;
    c.st = detail::waiter::state::parked;
    c.res = 0;
    c.buffer = nullptr;
    c.detach = [](detail::waiter& base) noexcept {  // the frame is going away: wait for the kernel
        auto& cw = static_cast<detail::completion&>(base);
        if (cw.owner) {
            cw.owner->unpark(cw);
        }
        cw.sched->io().completions()->abandon(cw);
        cw.res = -ECANCELED;
    };
    c.interrupt = [](detail::waiter& base) noexcept {  // cancel, close: resumed at the CQE
        auto& cw = static_cast<detail::completion&>(base);
        if (cw.owner) {
            cw.owner->unlink(cw);
        }
        cw.sched->io().completions()->cancel(cw);
    };
    return {};
}

void io_handle::unlink(detail::io_wait& w) noexcept {
    if (reader_ == &w) {
        reader_ = nullptr;
    } else if (writer_ == &w) {
        writer_ = nullptr;
    }
    w.owner = nullptr;
}

void detail::complete(completion& c) noexcept {
    if (c.owner) {
        c.owner->unlink(c);
    }
    c.st = waiter::state::scheduled;
    c.sched->schedule(c.handle);
}

result<int> detail::accept_op::complete(completion& c) const noexcept {
    if (c.res < 0) {
        return std::error_code(-c.res, std::system_category());
    }
    return c.res;
}

result<void> detail::connect_op::operator()() const noexcept {
    if (started) {
        return sys_socket_error(fd);  // writable: the handshake ended, one way or the other
    }
    if (::connect(fd, static_cast<const sockaddr*>(addr), static_cast<socklen_t>(addr_len)) == 0) {
        return {};
    }
    const int e = errno;
    // EINTR: the attempt goes on asynchronously, exactly as with EINPROGRESS.
    if (e == EINPROGRESS || e == EINTR) {
        started = true;
        return std::error_code(EAGAIN, std::system_category());  // would block: wait, then SO_ERROR
    }
    return std::error_code(e, std::system_category());
}

result<void> detail::connect_op::complete(completion& c) const noexcept {
    if (c.res < 0) {
        return std::error_code(-c.res, std::system_category());
    }
    return {};
}

void io_handle::unpark(detail::io_wait& w) noexcept {
    unlink(w);
    w.st = detail::waiter::state::idle;
}

void io_handle::finish(detail::io_wait*& slot) noexcept {
    detail::io_wait* w = slot;
    if (!w->attempt(*w)) {
        return;  // spurious readiness: the retry said EAGAIN, so stay parked
    }
    slot = nullptr;
    w->st = detail::waiter::state::scheduled;
    sched_->schedule(w->handle);
}

void io_handle::on_event(void* self_ptr, readiness r) noexcept {
    auto* self = static_cast<io_handle*>(self_ptr);
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

result<std::size_t> io_handle::try_recv(std::span<std::byte> buf) noexcept {
    auto n = detail::sys_recv(fd_, buf.data(), buf.size());
    // A stream socket that returned less than asked for has been drained (tokio relies on the
    // same): skip the recv that would only say EAGAIN, and wait for the next event instead.
    // Not after a hang-up: the end of stream is still to be read, and an edge-triggered
    // backend reported it with the data, so no further event would announce it.
    if (n && *n > 0 && *n < buf.size() && !(ready_ & readiness::hangup)) {
        clear_ready(interest::read);
    }
    // Forget readiness on EAGAIN too, or a wait_ready(read) after it would return at once.
    if (!n && detail::would_block(n.error())) {
        clear_ready(interest::read);
    }
    return n;
}

}  // namespace corio
