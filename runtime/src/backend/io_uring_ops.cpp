// SPDX-License-Identifier: MIT
// io_uring backend, operations: each submitted whole as an SQE whose user_data is its record;
// the CQE's result resumes the coroutine. Accepts and pooled receives are multishot: results
// queue per descriptor until their owner asks. See io_uring.cpp for the ring itself.
#include "backend/io_uring.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/socket.h>
#include <unistd.h>

namespace corio::detail::uring {

bool uring_backend::submit(completion& c, const completion_request& r) noexcept {
    // Accepts are multishot; so are pooled receives when the buffer ring works, and a plain
    // recv on a descriptor that has one armed (it must take the queued bytes first).
    if (r.kind == completion_kind::accept || (r.kind == completion_kind::recv_pooled && ring_ready()) ||
        (r.kind == completion_kind::recv && streams_.count(r.fd) != 0)) {
        return submit_multishot(c, r);
    }
    op_record* op = new_record();
    op->c = &c;
    op->kind = r.kind;
    op->fd = r.fd;
    if (!prepare(*op, r)) {
        free_record(op);
        c.res = -EBUSY;
        return false;
    }
    c.op = op;
    return true;
}

bool uring_backend::prepare(op_record& op, const completion_request& r) noexcept {
    if (r.kind == completion_kind::accept) {
        return false;  // submit_multishot's
    }
    io_uring_sqe* sqe = next_sqe(&op);
    const auto len = static_cast<unsigned>(std::min<std::size_t>(r.size, 0x7fffffff));
    switch (r.kind) {
    case completion_kind::recv:
        io_uring_prep_recv(sqe, r.fd, r.data, len, 0);
        break;
    case completion_kind::recv_pooled:
        prepare_pooled_recv(sqe, op);
        break;
    case completion_kind::read:
        io_uring_prep_read(sqe, r.fd, r.data, len, static_cast<__u64>(-1));
        break;
    case completion_kind::send:
        io_uring_prep_send(sqe, r.fd, r.data, len, MSG_NOSIGNAL);
        break;
    case completion_kind::writev:
        // sendmsg, as the readiness path: writev on a socket whose peer left raises SIGPIPE.
        op.msg = {};
        op.msg.msg_iov = static_cast<iovec*>(r.data);
        op.msg.msg_iovlen = r.size;
        io_uring_prep_sendmsg(sqe, r.fd, &op.msg, MSG_NOSIGNAL);
        break;
    case completion_kind::connect:
        io_uring_prep_connect(sqe, r.fd, static_cast<const sockaddr*>(r.data),
                              static_cast<socklen_t>(r.size));
        break;
    case completion_kind::accept:
        break;  // refused above
    }
    io_uring_sqe_set_data(sqe, &op);
    ++stats_.operations;
    return true;
}

void uring_backend::prepare_pooled_recv(io_uring_sqe* sqe, op_record& op) noexcept {
    if (!buffers_.is_open() && !buffers_failed_ && !op.own_buffer) {
        buffers_failed_ = !buffers_.open(ring_, buffer_count_);  // lazily: 16 KiB per entry
    }
    if (buffers_.is_open() && !op.own_buffer) {
        io_uring_prep_recv(sqe, op.fd, nullptr, pooled_buffer_size, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = buffer_group;
        return;
    }
    // No ring, or it ran dry under this receive: lend it a buffer of its own for this once.
    if (!op.own_buffer) {
        op.own_buffer = pool_take();
    }
    io_uring_prep_recv(sqe, op.fd, op.own_buffer, pooled_buffer_size, 0);
}

void uring_backend::cancel(completion& c) noexcept {
    auto* op = static_cast<op_record*>(c.op);
    if (!op) {
        return;
    }
    if (op->multishot) {
        auto it = streams_.find(op->fd);
        if (it != streams_.end() && it->second.waiter == &c) {
            it->second.waiter = nullptr;
        }
        c.op = nullptr;
        c.res = -ECANCELED;
        complete(c);
        // A receive stays armed (what it queues is the next recv's, at most max_queued_shots).
        // An accept stops now: connections nobody asked for stay in the kernel's backlog
        // instead of being accepted for nobody. Those it already took wait for the next accept.
        if (op->kind != completion_kind::accept || op->cancel_sent) {
            return;
        }
        if (unsubmitted(*op)) {
            retract(*op);
            if (it != streams_.end() && it->second.armed == op) {
                it->second.armed = nullptr;
            }
            free_record(op);
            return;
        }
        op->cancel_sent = true;
        cancel_sync(op);
        return;
    }
    if (unsubmitted(*op)) {
        retract(*op);
        c.op = nullptr;
        if (op->own_buffer) {
            pool_give(op->own_buffer);
        }
        free_record(op);
        c.res = -ECANCELED;
        complete(c);
        return;
    }
    if (!op->cancel_sent) {
        op->cancel_sent = true;
        cancel_now(reinterpret_cast<std::uint64_t>(op));
    }
}

void uring_backend::cancel_now(std::uint64_t user_data) noexcept {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_cancel64(sqe, user_data, 0);
    io_uring_sqe_set_data64(sqe, ignored_tag);
}

void uring_backend::cancel_sync(op_record* op) noexcept {
    io_uring_sync_cancel_reg reg{};
    reg.addr = reinterpret_cast<std::uint64_t>(op);
    reg.timeout.tv_sec = reg.timeout.tv_nsec = -1;
    io_uring_register_sync_cancel(&ring_, &reg);  // ENOENT: it had completed already
}

void uring_backend::let_go_of_file(op_record* op) noexcept {
    cancel_sync(op);
    // The request lets go of the file only when its completion is flushed, which a
    // single-issuer ring defers until it is next entered: enter now. The CQE waits in the CQ.
    io_uring_get_events(&ring_);
}

void uring_backend::cancel_for_close(completion& c) noexcept {
    auto* op = static_cast<op_record*>(c.op);
    if (!op || op->multishot || op->cancel_sent || unsubmitted(*op)) {
        return;  // forget(), or cancel() that follows, deals with these
    }
    op->cancel_sent = true;
    let_go_of_file(op);
}

void uring_backend::abandon(completion& c) noexcept {
    auto* op = static_cast<op_record*>(c.op);
    if (!op) {
        return;
    }
    c.op = nullptr;
    if (op->multishot) {
        auto it = streams_.find(op->fd);
        if (it != streams_.end() && it->second.waiter == &c) {
            it->second.waiter = nullptr;
        }
        return;
    }
    op->c = nullptr;  // its CQE now only frees the record (and any buffer)
    if (unsubmitted(*op)) {
        retract(*op);
        if (op->own_buffer) {
            pool_give(op->own_buffer);
        }
        free_record(op);
        return;
    }
    // In the kernel: wait until it is cancelled or done, as the frame's buffer is going away.
    cancel_sync(op);
}

bool uring_backend::submit_multishot(completion& c, const completion_request& r) noexcept {
    multishot_state& st = streams_[r.fd];
    if (!st.ready.empty()) {
        hand_over(st, c, r.kind, {static_cast<std::byte*>(r.data), r.size});
        return false;
    }
    if (!st.armed) {
        arm_multishot(st, r.fd, r.kind == completion_kind::accept ? completion_kind::accept
                                                                  : completion_kind::recv_pooled);
        if (!st.armed) {
            c.res = -EBUSY;
            return false;
        }
    }
    st.waiter = &c;
    st.waiter_kind = r.kind;
    st.waiter_span = {static_cast<std::byte*>(r.data), r.size};
    c.op = st.armed;
    return true;
}

void uring_backend::arm_multishot(multishot_state& st, int fd, completion_kind kind) noexcept {
    op_record* op = new_record();
    io_uring_sqe* sqe = next_sqe(op);
    op->kind = kind;
    op->fd = fd;
    op->multishot = true;
    if (kind == completion_kind::accept) {
        io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } else {
        io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = buffer_group;
    }
    io_uring_sqe_set_data(sqe, op);
    st.armed = op;
    ++stats_.operations;
}

void uring_backend::hand_over(multishot_state& st, completion& c, completion_kind kind,
                              std::span<std::byte> into) noexcept {
    shot& s = st.ready.front();
    c.op = nullptr;
    if (kind != completion_kind::recv || s.res <= 0) {  // accept, pooled recv, end or error
        c.res = s.res;
        c.buffer = s.buffer;
        st.ready.erase(st.ready.begin());
        return;
    }
    // recv into the caller's span: copy, and keep what does not fit for the next receive.
    const auto n = std::min<std::size_t>(static_cast<std::size_t>(s.res), into.size());
    std::memcpy(into.data(), s.buffer, n);
    c.res = static_cast<std::int32_t>(n);
    if (n == static_cast<std::size_t>(s.res)) {
        pool_give(s.buffer);
        st.ready.erase(st.ready.begin());
    } else {
        std::memmove(s.buffer, s.buffer + n, static_cast<std::size_t>(s.res) - n);
        s.res -= static_cast<std::int32_t>(n);
    }
}

void uring_backend::on_multishot(op_record* op, int res, unsigned flags) noexcept {
    const bool more = flags & IORING_CQE_F_MORE;
    std::byte* filled = (flags & IORING_CQE_F_BUFFER) ? buffers_.take(flags >> IORING_CQE_BUFFER_SHIFT)
                                                      : nullptr;
    auto it = streams_.find(op->fd);
    multishot_state* st = it != streams_.end() && it->second.armed == op ? &it->second : nullptr;
    if (!st) {  // its descriptor was closed: nobody will ask for this result
        give_back({res, filled}, op->kind);
        if (!more) {
            free_record(op);
        }
        return;
    }
    const bool dry = op->kind == completion_kind::recv_pooled && res == -ENOBUFS;
    if (dry) {
        ++stats_.buffer_retries;  // the multishot ends; a waiter gets a buffer of its own below
    } else if (!(op->cancel_sent && res == -ECANCELED)) {
        st->ready.push_back({res, filled});
        if (completion* w = std::exchange(st->waiter, nullptr)) {
            hand_over(*st, *w, st->waiter_kind, st->waiter_span);
            complete(*w);
        }
    }
    if (more && st->ready.size() >= max_queued_shots && !op->cancel_sent) {
        // Nobody is taking them: stop, so the socket (or backlog) holds the rest, as it would
        // without io_uring, instead of this queue growing without bound.
        op->cancel_sent = true;
        cancel_now(reinterpret_cast<std::uint64_t>(op));
    }
    if (!more) {
        st->armed = nullptr;
        free_record(op);
        if (st->waiter) {
            rearm_for_waiter(*st, it->first, dry);
        }
    }
}

void uring_backend::rearm_for_waiter(multishot_state& st, int fd, bool dry) noexcept {
    completion* w = st.waiter;
    if (!dry) {  // the kernel ends a multishot now and then; it is still wanted
        arm_multishot(st, fd, st.waiter_kind == completion_kind::accept ? completion_kind::accept
                                                                         : completion_kind::recv_pooled);
        if (st.armed) {
            w->op = st.armed;
            return;
        }
    }
    // The ring ran dry (nothing was read) or the SQ is stuck: one plain receive for this
    // waiter, into its own span or a buffer lent for the occasion.
    st.waiter = nullptr;
    op_record* op = new_record();
    op->c = w;
    op->kind = st.waiter_kind;
    op->fd = fd;
    if (op->kind == completion_kind::recv_pooled) {
        op->own_buffer = pool_take();
    }
    const completion_request again{op->kind, fd, st.waiter_span.data(), st.waiter_span.size()};
    if (op->kind != completion_kind::accept && prepare(*op, again)) {
        w->op = op;
        return;
    }
    if (op->own_buffer) {
        pool_give(op->own_buffer);
    }
    free_record(op);
    w->op = nullptr;
    w->res = -EBUSY;
    complete(*w);
}

void uring_backend::give_back(const shot& s, completion_kind kind) noexcept {
    if (kind == completion_kind::accept && s.res >= 0) {
        ::close(s.res);  // a connection nobody will take
    }
    if (s.buffer) {
        pool_give(s.buffer);
    }
}

void uring_backend::forget(int fd) noexcept {
    auto it = streams_.find(fd);
    if (it == streams_.end()) {
        return;
    }
    multishot_state& st = it->second;
    const completion_kind kind = st.armed ? st.armed->kind : st.waiter_kind;
    if (op_record* op = st.armed) {
        if (unsubmitted(*op)) {
            retract(*op);
            free_record(op);
        } else {
            // Until the kernel drops its reference the socket stays open (a listener keeps
            // listening, a peer sees no close): the descriptor is being closed now. Its last
            // CQE frees the record.
            op->cancel_sent = true;
            let_go_of_file(op);
        }
    }
    for (const shot& s : st.ready) {
        give_back(s, kind);
    }
    streams_.erase(it);
}

void uring_backend::on_op(op_record* op, int res, unsigned flags) noexcept {
    if (op->multishot) {
        on_multishot(op, res, flags);
        return;
    }
    op->sqe = nullptr;
    std::byte* filled = (flags & IORING_CQE_F_BUFFER) ? buffers_.take(flags >> IORING_CQE_BUFFER_SHIFT)
                                                      : nullptr;
    completion* c = op->c;
    if (c && op->kind == completion_kind::recv_pooled && res == -ENOBUFS && !op->cancel_sent) {
        // The ring ran dry: nothing was read, so retry with a buffer of this op's own.
        ++stats_.buffer_retries;
        op->own_buffer = pool_take();
        completion_request again{completion_kind::recv_pooled, op->fd};
        if (prepare(*op, again)) {
            return;
        }
    }
    if (c && op->kind == completion_kind::writev && res == -ENOTSOCK && !op->plain_write) {
        // A pipe or file: plain writev, as the readiness path falls back to.
        io_uring_sqe* sqe = next_sqe(op);
        io_uring_prep_writev(sqe, op->fd, op->msg.msg_iov, static_cast<unsigned>(op->msg.msg_iovlen),
                             static_cast<__u64>(-1));
        io_uring_sqe_set_data(sqe, op);
        op->plain_write = true;
        return;
    }
    std::byte* own = std::exchange(op->own_buffer, nullptr);
    if (!c) {  // abandoned: the frame is gone, only buffers to give back
        for (std::byte* b : {filled, own}) {
            if (b) {
                pool_give(b);
            }
        }
        free_record(op);
        return;
    }
    c->res = res;
    if (op->kind == completion_kind::recv_pooled && res > 0) {
        c->buffer = filled ? filled : own;
        own = filled ? own : nullptr;
    } else if (filled) {
        pool_give(filled);
    }
    if (own) {
        pool_give(own);
    }
    c->op = nullptr;
    free_record(op);
    complete(*c);
}

}  // namespace corio::detail::uring
