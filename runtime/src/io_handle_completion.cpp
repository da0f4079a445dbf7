// SPDX-License-Identifier: MIT
// io_handle, the completion model (io_uring): an operation submitted whole occupies a reading
// or writing slot until its completion resumes it. Nothing here reads the readiness slots, and
// no readiness event reaches these (io_handle_readiness.cpp).
#include <corio/io_handle.hpp>

#include <corio/detail/scheduler.hpp>

#include <cerrno>

namespace corio {

result<void> io_handle::park(detail::completion& c, interest dir, detail::scheduler& s,
                             detail::completion_kind /*kind*/) {
    check_free(dir);
    check_runtime(s);
    sched_ = &s;
    if (!token_.valid()) {
        // A registration without interest (no system call) makes the runtime's teardown reach
        // this handle (forget_runtime), so a handle that outlives its runtime, or that the
        // backend keeps state for, never calls into it.
        auto t = s.io().add(fd_, interest::none, &io_handle::on_event, this);
        if (!t) {
            return t.error();
        }
        token_ = *t;
    }
    (dir == interest::read ? reading_ : writing_) = &c;
    c.owner = this;
    c.dir = dir;
    c.sched = &s;
    c.st = detail::waiter::state::parked;
    c.res = 0;
    c.buffer = nullptr;
    c.detach = [](detail::waiter& base) noexcept {  // the frame is going away: wait for the kernel
        auto& cw = static_cast<detail::completion&>(base);
        if (cw.owner) {
            cw.owner->unlink(cw);
        }
        cw.sched->io().completions()->abandon(cw);
        cw.res = -ECANCELED;
        cw.st = detail::waiter::state::idle;
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

void io_handle::unlink(detail::completion& c) noexcept {
    if (reading_ == &c) {
        reading_ = nullptr;
    } else if (writing_ == &c) {
        writing_ = nullptr;
    }
    c.owner = nullptr;
}

void detail::complete(completion& c) noexcept {
    if (io_handle* h = c.owner) {
        // What the result says of readiness, for the next op's plain first try: a full count
        // means more may be ready at once; a short one means the socket was drained (or full).
        if (c.res >= 0 && c.requested > 0 && static_cast<std::uint32_t>(c.res) == c.requested) {
            h->ready_ |= static_cast<std::uint8_t>(c.dir);
        }
        h->last_done_ = static_cast<std::uint8_t>(c.dir);
        // A failed send may leave the backend holding the connection's error for the reader
        // (it has the descriptor forgotten at close); the reader then goes through it too.
        if (c.res < 0 && c.dir == interest::write) {
            h->backend_state_ = true;
        }
        h->unlink(c);
    }
    c.st = waiter::state::scheduled;
    c.sched->schedule(c.handle, c.root);
}

result<int> detail::accept_op::complete(completion& c) const noexcept {
    if (c.res < 0) {
        return std::error_code(-c.res, std::system_category());
    }
    return c.res;
}

result<void> detail::connect_op::complete(completion& c) const noexcept {
    if (c.res < 0) {
        return std::error_code(-c.res, std::system_category());
    }
    return {};
}

}  // namespace corio
