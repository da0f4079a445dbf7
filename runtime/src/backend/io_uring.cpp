// SPDX-License-Identifier: MIT
// The io_uring backend: a completion backend. recv, send, writev, read, accept (multishot) and
// connect go to the kernel whole, as SQEs, and their CQEs carry the result (io_uring_ops.cpp);
// what only needs readiness (wait_ready, generic perform) becomes a multishot POLL_ADD (here).
// SQEs queue up while coroutines run and go in with the loop's one io_uring_enter, which waits.
#include "backend/io_uring.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace corio::detail::uring {
namespace {

std::error_code from_res(int res) { return {-res, std::system_category()}; }

std::int64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

unsigned poll_mask(interest want) {
    unsigned m = 0;
    if (contains(want, interest::read)) {
        m |= POLLIN | POLLRDHUP;
    }
    if (contains(want, interest::write)) {
        m |= POLLOUT;
    }
    return m;
}

}  // namespace

result<void> uring_backend::open(std::string& why) {
    if (const char* off = std::getenv("CORIO_IO_URING_DISABLE"); off && *off && *off != '0') {
        why = "disabled by CORIO_IO_URING_DISABLE";
        return errc::backend_unavailable;
    }
    io_uring_params p{};
    int r = init_ring(p);
    if (r < 0) {
        why = std::string("io_uring_setup failed: ") + std::strerror(-r);
        return errc::backend_unavailable;
    }
    ring_open_ = true;
    if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_FAST_POLL)) {
        why = "kernel too old (needs IORING_FEAT_NODROP and FAST_POLL, Linux 5.19+)";
        return errc::backend_unavailable;
    }
    // Synchronous cancellation (Linux 6.0) lets a destroyed frame wait for the kernel to let
    // go of its buffer. A key that matches nothing answers ENOENT where it is supported.
    io_uring_sync_cancel_reg probe{};
    probe.addr = 1;  // an odd tag no record and no poll generation 0 ever uses
    probe.timeout.tv_sec = probe.timeout.tv_nsec = -1;
    if (r = io_uring_register_sync_cancel(&ring_, &probe); r != -ENOENT) {
        why = "kernel lacks synchronous cancellation (Linux 6.0+)";
        return errc::backend_unavailable;
    }
    wakefd_ = ::eventfd(0, EFD_CLOEXEC);
    if (wakefd_ < 0) {
        why = std::string("eventfd: ") + std::strerror(errno);
        return errc::backend_unavailable;
    }
    arm_wake();
    return {};
}

uring_backend::~uring_backend() {
    if (!ring_open_) {
        if (wakefd_ >= 0) {
            ::close(wakefd_);
        }
        return;
    }
    // Stop everything still in the kernel, so no buffer is touched after this; frames still
    // waiting on it stay suspended for good, as on the readiness backends.
    io_uring_submit(&ring_);
    io_uring_sync_cancel_reg all{};
    all.flags = IORING_ASYNC_CANCEL_ANY;
    all.timeout.tv_sec = all.timeout.tv_nsec = -1;
    io_uring_register_sync_cancel(&ring_, &all);
    for (op_record& op : records_) {
        if (op.c) {
            op.c->op = nullptr;
            op.c->st = waiter::state::idle;
        }
        if (op.own_buffer) {
            pool_give(op.own_buffer);
        }
    }
    for (auto& [fd, st] : streams_) {
        const completion_kind kind = st.armed ? st.armed->kind : st.waiter_kind;
        for (const shot& s : st.ready) {
            give_back(s, kind);
        }
        if (st.waiter) {
            st.waiter->st = waiter::state::idle;
        }
    }
    buffers_.close();
    io_uring_queue_exit(&ring_);
    ::close(wakefd_);
}

int uring_backend::init_ring(io_uring_params& p) noexcept {
    // One thread submits and reaps: let the kernel run completions only when we wait.
    p = {};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int r = io_uring_queue_init_params(ring_entries, &ring_, &p);
    if (r == -EINVAL) {  // kernels before 6.1
        p = {};
        p.flags = IORING_SETUP_COOP_TASKRUN;
        r = io_uring_queue_init_params(ring_entries, &ring_, &p);
    }
    setup_flags_ = p.flags;
    issuer_ = pthread_self();
    if (r >= 0) {
        io_uring_register_ring_fd(&ring_);  // saves a descriptor lookup per enter; optional
    }
    return r;
}

void uring_backend::ensure_issuer() noexcept {
    // A single-issuer ring belongs to the thread that made it; a runtime built on one thread
    // and run on another gets a new ring, as long as nothing but the wake-up read is in it.
    if (pthread_equal(issuer_, pthread_self()) || !(setup_flags_ & IORING_SETUP_SINGLE_ISSUER)) {
        return;
    }
    if (!records_.empty() || !polls_.empty() || !streams_.empty() || buffers_.is_open()) {
        return;  // in use already: the kernel refuses this thread (EEXIST), which surfaces
    }
    io_uring_queue_exit(&ring_);
    io_uring_params p{};
    if (init_ring(p) < 0) {
        ring_open_ = false;
        return;
    }
    arm_wake();
}

io_uring_sqe* uring_backend::next_sqe() noexcept {
    ensure_issuer();
    if (!ring_open_) {
        return nullptr;
    }
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {  // the SQ is full: hand this batch to the kernel early
        stats_.submissions += static_cast<std::uint64_t>(std::max(io_uring_submit(&ring_), 0));
        ++stats_.enters;
        ++batch_;
        sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
}

op_record* uring_backend::new_record() noexcept {
    op_record* op = free_records_;
    if (op) {
        free_records_ = op->next_free;
        *op = op_record{};
    } else {
        op = &records_.emplace_back();
    }
    return op;
}

void uring_backend::free_record(op_record* op) noexcept {
    op->c = nullptr;
    op->sqe = nullptr;
    op->fd = -1;
    op->next_free = free_records_;
    free_records_ = op;
}

void uring_backend::retract(op_record& op) noexcept {
    // Still in the SQ: turn it into a no-op, so the kernel never sees the operation at all.
    io_uring_prep_nop(op.sqe);
    io_uring_sqe_set_data64(op.sqe, ignored_tag);
    op.sqe = nullptr;
}

void uring_backend::arm_poll(int fd, poll_reg& reg, interest want) noexcept {
    reg.mask = poll_mask(want);
    if (reg.mask == 0) {
        return;
    }
    if (io_uring_sqe* sqe = next_sqe()) {
        io_uring_prep_poll_multishot(sqe, fd, reg.mask);
        io_uring_sqe_set_data64(sqe, poll_data(fd, reg.generation));
    }
}

void uring_backend::disarm_poll(int fd, poll_reg& reg) noexcept {
    if (reg.mask == 0) {
        return;
    }
    std::size_t index;
    if (!free_removals_.empty()) {
        index = free_removals_.back();
        free_removals_.pop_back();
    } else {
        index = removals_.size();
        removals_.push_back(0);
    }
    removals_[index] = poll_data(fd, reg.generation);
    submit_removal(index);
    reg.mask = 0;
}

void uring_backend::submit_removal(std::size_t index) noexcept {
    if (io_uring_sqe* sqe = next_sqe()) {
        io_uring_prep_poll_remove(sqe, removals_[index]);
        io_uring_sqe_set_data64(sqe, (std::uint64_t{index} << 3) | removal_tag);
    }
}

void uring_backend::on_removal(std::uint64_t data, int res) noexcept {
    const std::size_t index = data >> 3;
    // EALREADY: the poll was mid-wake-up (its task work pending) and stays armed. It holds a
    // reference to the file, so a closed socket would linger unclosed: ask again.
    if (res == -EALREADY) {
        submit_removal(index);
        return;
    }
    removals_[index] = 0;
    free_removals_.push_back(index);
}

result<void> uring_backend::add(int fd, interest want, std::uint64_t token) {
    // The poll's CQE would report a bad descriptor only later; callers expect it now.
    if (fd < 0 || (want != interest::none && ::fcntl(fd, F_GETFD) < 0)) {
        return std::errc::bad_file_descriptor;
    }
    if (static_cast<std::size_t>(fd) >= polls_.size()) {
        polls_.resize(static_cast<std::size_t>(fd) + 1);
    }
    poll_reg& reg = polls_[static_cast<std::size_t>(fd)];
    reg.generation += 1;  // events of an earlier registration of this fd are now stale
    reg.token = token;
    arm_poll(fd, reg, want);
    return {};
}

result<void> uring_backend::modify(int fd, interest want, std::uint64_t token) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= polls_.size()) {
        return std::errc::invalid_argument;
    }
    poll_reg& reg = polls_[static_cast<std::size_t>(fd)];
    disarm_poll(fd, reg);
    reg.generation += 1;
    reg.token = token;
    arm_poll(fd, reg, want);
    return {};
}

result<void> uring_backend::remove(int fd) {
    if (fd >= 0 && static_cast<std::size_t>(fd) < polls_.size()) {
        poll_reg& reg = polls_[static_cast<std::size_t>(fd)];
        disarm_poll(fd, reg);
        reg.generation += 1;
    }
    return {};
}

void uring_backend::arm_wake() noexcept {
    if (io_uring_sqe* sqe = next_sqe()) {
        io_uring_prep_read(sqe, wakefd_, &wake_value_, sizeof wake_value_, 0);
        io_uring_sqe_set_data64(sqe, wake_tag);
    }
}

void uring_backend::arm_timer(std::chrono::nanoseconds timeout) noexcept {
    const std::int64_t deadline = monotonic_ns() + std::min<std::int64_t>(timeout.count(), INT64_MAX / 4);
    if (timer_armed_ && timer_deadline_ns_ <= deadline) {
        return;  // an earlier wake-up is already due; the loop re-arms after it
    }
    io_uring_sqe* sqe = next_sqe();
    if (!sqe) {
        return;
    }
    timer_ts_.tv_sec = deadline / 1'000'000'000;
    timer_ts_.tv_nsec = deadline % 1'000'000'000;
    if (timer_armed_) {
        io_uring_prep_timeout_update(sqe, &timer_ts_, timer_tag, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, ignored_tag);
    } else {
        io_uring_prep_timeout(sqe, &timer_ts_, 0, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, timer_tag);
    }
    timer_armed_ = true;
    timer_deadline_ns_ = deadline;
}

result<std::size_t> uring_backend::wait(std::span<ready_event> out,
                                        std::optional<std::chrono::nanoseconds> timeout) {
    ensure_issuer();
    if (!ring_open_) {
        return std::errc::bad_file_descriptor;
    }
    const bool block = !timeout || timeout->count() > 0;
    if (timeout && timeout->count() > 0) {
        arm_timer(*timeout);
    }
    const unsigned queued = io_uring_sq_ready(&ring_);
    int r = block ? io_uring_submit_and_wait(&ring_, 1) : io_uring_submit_and_get_events(&ring_);
    ++stats_.enters;
    ++batch_;
    if (r >= 0) {
        stats_.submissions += queued;
    } else if (r != -EINTR && r != -ETIME && r != -EBUSY && r != -EAGAIN) {
        return from_res(r);
    }
    return reap(out);
}

std::size_t uring_backend::reap(std::span<ready_event> out) noexcept {
    std::size_t count = 0;  // readiness events in `out`; completions resume their waiters here
    unsigned seen = 0;
    unsigned head;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
        const std::uint64_t data = cqe->user_data;
        if ((data & poll_bit) && count == out.size()) {
            break;  // the rest stays in the CQ for the next wait
        }
        ++seen;
        if (data & poll_bit) {
            count += on_poll(*cqe, out[count]) ? 1 : 0;
        } else if ((data & removal_mask) == removal_tag) {
            on_removal(data, cqe->res);
        } else if (data == wake_tag) {
            arm_wake();
        } else if (data == timer_tag) {
            timer_armed_ = false;
        } else if (data != ignored_tag) {
            on_op(reinterpret_cast<op_record*>(data), cqe->res, cqe->flags);
        }
    }
    io_uring_cq_advance(&ring_, seen);
    return count;
}

bool uring_backend::on_poll(const io_uring_cqe& cqe, ready_event& ev) noexcept {
    const int fd = static_cast<int>((cqe.user_data >> 1) & 0x7fffffff);
    const auto gen = static_cast<std::uint32_t>(cqe.user_data >> 32);
    if (static_cast<std::size_t>(fd) >= polls_.size()) {
        return false;
    }
    poll_reg& reg = polls_[static_cast<std::size_t>(fd)];
    if (reg.generation != gen || reg.mask == 0) {
        return false;  // removed or replaced since
    }
    const bool more = cqe.flags & IORING_CQE_F_MORE;
    if (!more) {  // the kernel ended this multishot poll: keep watching
        arm_poll(fd, reg, static_cast<interest>((reg.mask & POLLIN ? 1 : 0) | (reg.mask & POLLOUT ? 2 : 0)));
    }
    if (cqe.res == -ECANCELED) {
        return false;
    }
    const readiness r = readiness_from_poll(cqe.res < 0 ? POLLERR : static_cast<unsigned>(cqe.res));
    ev = {reg.token, r};
    return true;
}

}  // namespace corio::detail::uring

namespace corio::detail {

result<std::unique_ptr<backend>> open_io_uring(std::string& why) {
    auto b = std::make_unique<uring::uring_backend>();
    if (auto r = b->open(why); !r) {
        return r.error();
    }
    return std::unique_ptr<backend>(std::move(b));
}

}  // namespace corio::detail
