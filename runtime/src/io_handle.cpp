// SPDX-License-Identifier: MIT
// io_handle: ownership of the descriptor, moves, close, and the slots' bookkeeping. Readiness
// dispatch is in io_handle_readiness.cpp, completion dispatch in io_handle_completion.cpp;
// neither calls the other.
#include <corio/io_handle.hpp>

#include <corio/detail/scheduler.hpp>

#include <cerrno>
#include <utility>

#include <sys/socket.h>

namespace corio {

io_handle& io_handle::operator=(io_handle&& o) {
    if (this != &o) {
        if (has_parked()) {
            throw usage_error("corio::io_handle: assigned to while an operation is parked on it");
        }
        (void)close();
        take(o);
    }
    return *this;
}

void io_handle::take(io_handle& o) {
    // A parked operation holds a reference to the handle it was started on: it cannot follow.
    if (o.has_parked()) {
        throw usage_error("corio::io_handle: moved while an operation is parked on it");
    }
    fd_ = std::exchange(o.fd_, -1);
    sched_ = std::exchange(o.sched_, nullptr);
    token_ = std::exchange(o.token_, {});
    registered_ = std::exchange(o.registered_, interest::none);
    backend_state_ = std::exchange(o.backend_state_, false);
    last_done_ = std::exchange(o.last_done_, 0);
    stale_ = std::exchange(o.stale_, false);
    ready_ = std::exchange(o.ready_, readiness::readable | readiness::writable);
    if (token_.valid()) {
        sched_->io().set_context(token_, this);
    }
}

void io_handle::forget_runtime() noexcept {
    sched_ = nullptr;
    token_ = {};
    registered_ = interest::none;
    backend_state_ = false;
    // Their frames stay suspended for good: nothing may resume them now.
    for (detail::io_wait* w : {reader_, writer_}) {
        if (w) {
            w->owner = nullptr;
            w->poll = nullptr;
            w->st = detail::waiter::state::idle;
        }
    }
    for (detail::completion* c : {reading_, writing_}) {
        if (c) {
            c->owner = nullptr;
            c->st = detail::waiter::state::idle;
        }
    }
    reader_ = writer_ = nullptr;
    reading_ = writing_ = nullptr;
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
    if (auto* port = sched_ ? sched_->io().completions() : nullptr) {
        // Operations in the kernel hold the file: let go of it now, whether or not the loop
        // runs again, so the peer sees this close at once (as on every other backend).
        for (detail::completion* c : {reading_, writing_}) {
            if (c) {
                port->cancel_for_close(*c);
            }
        }
    }
    wake_all(make_error_code(errc::closed));
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

void io_handle::wake_all(std::error_code why) noexcept {
    for (detail::waiter* w : {static_cast<detail::waiter*>(reader_), static_cast<detail::waiter*>(writer_),
                              static_cast<detail::waiter*>(reading_), static_cast<detail::waiter*>(writing_)}) {
        if (w) {
            sched_->wake_waiter(*w, why);
        }
    }
}

void io_handle::check_free(interest dir) const {
    const bool taken = dir == interest::read ? (reader_ || reading_) : (writer_ || writing_);
    if (taken) {
        throw usage_error(dir == interest::read
                              ? "corio::io_handle: a second concurrent read on one handle"
                              : "corio::io_handle: a second concurrent write on one handle");
    }
}

void io_handle::check_runtime(detail::scheduler& s) const {
    if (owned_elsewhere(s)) {
        throw usage_error(
            "corio::io_handle: handle used on a second loop or runtime (a handle belongs to the "
            "loop that first waited on it)");
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

}  // namespace corio
