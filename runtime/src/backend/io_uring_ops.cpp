// SPDX-License-Identifier: MIT
// io_uring backend, operations: each submitted whole as an SQE whose user_data is its record;
// the CQE's result resumes the coroutine. Each takes only what it asked for (one connection,
// one buffer's worth of bytes): nothing is read ahead, so a released descriptor keeps all that
// the kernel queued. See io_uring.cpp for the ring itself.
#include "backend/io_uring.hpp"

#include <corio/detail/scheduler.hpp>
#include <corio/error.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/socket.h>
#include <unistd.h>

namespace corio::detail::uring {

bool uring_backend::submit(completion& c, const completion_request& r) noexcept {
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
        io_uring_prep_read(sqe, r.fd, r.data, len, r.offset);
        break;
    case completion_kind::write:
        io_uring_prep_write(sqe, r.fd, r.data, len, r.offset);
        break;
    case completion_kind::fsync:
    case completion_kind::fdatasync:
        io_uring_prep_fsync(sqe, r.fd, r.kind == completion_kind::fdatasync ? IORING_FSYNC_DATASYNC : 0);
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
        io_uring_prep_accept(sqe, r.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        break;
    }
    io_uring_sqe_set_data(sqe, &op);
    ++stats_.operations;
    return true;
}

void uring_backend::prepare_pooled_recv(io_uring_sqe* sqe, op_record& op) noexcept {
    if (!op.own_buffer && ring_ready()) {
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
    if (!op || op->cancel_sent || unsubmitted(*op)) {
        return;  // cancel(), which follows, deals with these
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

void uring_backend::on_op(op_record* op, int res, unsigned flags) noexcept {
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
    if (!op->stale) {
        res = note_stream_error(*op, res);
    }
    std::byte* own = std::exchange(op->own_buffer, nullptr);
    if (!c) {  // abandoned or evicted: nobody takes the result, only buffers to give back
        if (op->kind == completion_kind::accept && res >= 0) {
            ::close(res);  // accepted as the frame went away: as if the task dropped it
        }
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

namespace {

/// Errors that end a connection abnormally; the kernel reports one once, to whichever call
/// comes first. EPIPE is not one: the peer had finished (its FIN came first) or we shut down.
bool ends_connection(int err) noexcept {
    switch (err) {
    case ECONNRESET:
    case ECONNABORTED:
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETRESET:
        return true;
    default:
        return false;
    }
}

bool reads(completion_kind k) noexcept {
    return k == completion_kind::recv || k == completion_kind::recv_pooled || k == completion_kind::read;
}

}  // namespace

int uring_backend::note_stream_error(const op_record& op, int res) noexcept {
    // A reset with a send and a receive pending: the send's completion may take the socket's
    // error, and the receive then finds only the end of stream. Keep the error for the reader,
    // so a truncated stream never looks complete (the readiness backends try the reader first).
    if (res < 0 && (op.kind == completion_kind::send || op.kind == completion_kind::writev) &&
        ends_connection(-res)) {
        stream_errors_[op.fd] = -res;
    } else if (res == 0 && !stream_errors_.empty() && reads(op.kind)) {
        if (auto it = stream_errors_.find(op.fd); it != stream_errors_.end()) {
            res = -it->second;
            stream_errors_.erase(it);
        }
    }
    return res;
}

void uring_backend::forget(int fd) noexcept {
    stream_errors_.erase(fd);
}

void uring_backend::evict(int fd) noexcept {
    stream_errors_.erase(fd);
    const std::error_code stale = make_error_code(errc::stale_descriptor);
    // Rare (a usage error caught), so a scan of the records is fine. Records are never
    // allocated below, so the deque does not change under the loop.
    for (op_record& op : records_) {
        if (op.fd != fd || op.stale) {
            continue;
        }
        if (io_wait* w = op.w) {
            // A readiness wait's poll on the old file: ends the wait (its detach drops the poll,
            // which lets go of the old file) instead of letting it retry on the new socket.
            w->sched->wake_waiter(*w, stale);
            continue;
        }
        completion* c = op.c;
        if (!c) {
            continue;  // abandoned: its CQE only frees the record
        }
        op.c = nullptr;
        op.stale = true;  // its result, if one still comes, is the old file's: dropped
        c->op = nullptr;
        if (unsubmitted(op)) {
            // Never seen by the kernel, which would have resolved the number to the new socket.
            retract(op);
            if (op.own_buffer) {
                pool_give(op.own_buffer);
            }
            free_record(&op);
        } else {
            // On the old file: once this returns the kernel touches neither c's buffer nor
            // the old file; the CQE that follows frees the record and anything it took.
            op.cancel_sent = true;
            let_go_of_file(&op);
        }
        c->res = -ECANCELED;
        c->reason = stale;
        complete(*c);
    }
}

}  // namespace corio::detail::uring
