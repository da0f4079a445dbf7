// SPDX-License-Identifier: MIT
// The io_uring backend: a completion backend. recv, send, writev, read, accept and
// connect go to the kernel whole, as SQEs, and their CQEs carry the result (io_uring_ops.cpp);
// what only needs readiness becomes a POLL_ADD (io_uring_polls.cpp). Here: the ring itself, its
// thread, the SQ that never drops an entry, and the loop's wait, which reaps and dispatches.
// SQEs queue up while coroutines run and go in with the loop's one io_uring_enter, which waits.
#include "backend/io_uring.hpp"

#include <corio/error.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

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

}  // namespace

std::uint64_t this_thread_id() noexcept {
    static std::atomic<std::uint64_t> next{1};
    thread_local const std::uint64_t id = next.fetch_add(1, std::memory_order_relaxed);
    return id;
}

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
        if (op.w) {
            op.w->poll = nullptr;
            op.w->st = waiter::state::idle;
        }
        if (op.own_buffer) {
            pool_give(op.own_buffer);
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
    int r = io_uring_queue_init_params(entries_, &ring_, &p);
    if (r == -EINVAL) {  // kernels before 6.1
        p = {};
        p.flags = IORING_SETUP_COOP_TASKRUN;
        r = io_uring_queue_init_params(entries_, &ring_, &p);
    }
    setup_flags_ = p.flags;
    issuer_ = this_thread_id();
    produced_ = consumed_ = 0;
    khead_seen_ = r >= 0 ? io_uring_smp_load_acquire(ring_.sq.khead) : 0;
    if (r >= 0) {
        io_uring_register_ring_fd(&ring_);  // saves a descriptor lookup per enter; optional
    }
    return r;
}

void uring_backend::attach_thread() {
    // A single-issuer ring belongs to the thread that made it. A runtime run on another
    // thread gets a new ring, with everything that lives outside the kernel carried over:
    // the wake-up read, the timer (re-armed by the next wait) and readiness registrations.
    if (issuer_ == this_thread_id() || !(setup_flags_ & IORING_SETUP_SINGLE_ISSUER)) {
        return;
    }
    if (live_records_ > 0) {
        throw usage_error(
            "corio: an io_uring runtime cannot move to another thread while operations are in "
            "the kernel (run it on the thread that ran it, or let them finish first)");
    }
    rebuild_ring();
}

void uring_backend::rebuild_ring() {
    buffers_.close();  // registered with the old ring; reopened lazily on the new one
    buffers_failed_ = false;
    io_uring_queue_exit(&ring_);
    ring_open_ = false;
    timer_armed_ = false;
    stashed_.clear();  // only wake-up, timer and removal results: nothing waits for them
    removals_.clear();
    free_removals_.clear();
    io_uring_params p{};
    if (int r = init_ring(p); r < 0) {
        ring_error_ = r;
        return;
    }
    ring_open_ = true;
    arm_wake();
    for (std::size_t fd = 0; fd < polls_.size(); ++fd) {
        poll_reg& reg = polls_[fd];
        if (reg.mask != 0) {
            const unsigned mask = reg.mask;
            reg.generation += 1;
            reg.mask = mask;
            prep_poll(static_cast<int>(fd), reg);
        }
    }
}

io_uring_sqe* uring_backend::next_sqe(op_record* op) noexcept {
    io_uring_sqe* sqe = nullptr;
    while (ring_open_ && ring_error_ == 0) {
        sqe = io_uring_get_sqe(&ring_);
        if (sqe) {
            break;
        }
        ++stats_.full_sq_submits;
        submit_queued();  // the SQ is full: hand it to the kernel, then take a free entry
    }
    if (!sqe) {
        // The ring itself failed (wait() reports it, and the loop stops): nothing is submitted
        // any more, so anything prepared goes nowhere.
        std::memset(scratch_sqe_, 0, sizeof scratch_sqe_);
        sqe = reinterpret_cast<io_uring_sqe*>(scratch_sqe_);
    }
    if (op) {
        op->sqe = sqe;
        op->seq = produced_;
    }
    ++produced_;
    return sqe;
}

void uring_backend::submit_queued() noexcept {
    const int r = io_uring_submit(&ring_);
    ++stats_.enters;
    note_consumed();
    if (r == -EBUSY || r == -EAGAIN) {
        // Completions the CQ (and its overflow) cannot hold: take them off, so the kernel
        // accepts more. They are handled, in order, at the next reap.
        stash_completions();
    } else if (r < 0 && r != -EINTR) {
        ring_error_ = r;
    }
}

void uring_backend::note_consumed() noexcept {
    const unsigned head = io_uring_smp_load_acquire(ring_.sq.khead);
    const unsigned taken = head - khead_seen_;  // modulo 2^32, as the kernel counts
    khead_seen_ = head;
    consumed_ += taken;
    stats_.submissions += taken;
}

void uring_backend::stash_completions() noexcept {
    for (int round = 0; round < 2; ++round) {
        unsigned head;
        unsigned seen = 0;
        io_uring_cqe* cqe;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            stashed_.push_back({cqe->user_data, cqe->res, cqe->flags});
            ++seen;
            ++stats_.stashed_completions;
        }
        io_uring_cq_advance(&ring_, seen);
        if (round == 0) {
            io_uring_get_events(&ring_);  // moves overflowed completions into the CQ
            ++stats_.enters;
        }
    }
}

op_record* uring_backend::new_record() noexcept {
    op_record* op = free_records_;
    if (op) {
        free_records_ = op->next_free;
        *op = op_record{};
    } else {
        op = &records_.emplace_back();
    }
    ++live_records_;
    return op;
}

void uring_backend::free_record(op_record* op) noexcept {
    --live_records_;
    op->c = nullptr;
    op->w = nullptr;
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

void uring_backend::arm_wake() noexcept {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_read(sqe, wakefd_, &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(sqe, wake_tag);
}

void uring_backend::arm_timer(std::chrono::nanoseconds timeout) noexcept {
    const std::int64_t deadline = monotonic_ns() + std::min<std::int64_t>(timeout.count(), INT64_MAX / 4);
    if (timer_armed_ && timer_deadline_ns_ <= deadline) {
        return;  // an earlier wake-up is already due; the loop re-arms after it
    }
    io_uring_sqe* sqe = next_sqe();
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
    if (ring_error_ != 0) {
        return from_res(ring_error_);
    }
    if (!ring_open_) {
        return std::errc::bad_file_descriptor;
    }
    // Completions stashed while submitting are already here: do not sleep on the kernel.
    const bool block = stashed_.empty() && (!timeout || timeout->count() > 0);
    if (block && timeout) {
        arm_timer(*timeout);
    }
    const int r = block ? io_uring_submit_and_wait(&ring_, 1) : io_uring_submit_and_get_events(&ring_);
    ++stats_.enters;
    note_consumed();
    if (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_CQ_OVERFLOW) {
        ++stats_.cq_overflows;  // NODROP: the kernel holds them and hands them over as we reap
    }
    if (r < 0 && r != -EINTR && r != -ETIME && r != -EBUSY && r != -EAGAIN) {
        return from_res(r);
    }
    return reap(out);
}

std::size_t uring_backend::reap(std::span<ready_event> out) noexcept {
    std::size_t count = 0;  // readiness events in `out`; completions resume their waiters here
    // Stashed completions are older than the CQ's: all of them go first, so a multishot's
    // results (a readiness poll's) keep their order.
    std::size_t done = 0;
    while (done < stashed_.size() && dispatch(stashed_[done], out, count)) {
        ++done;
    }
    stashed_.erase(stashed_.begin(), stashed_.begin() + static_cast<std::ptrdiff_t>(done));
    if (!stashed_.empty()) {
        return count;
    }
    unsigned seen = 0;
    unsigned head;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
        if (!dispatch({cqe->user_data, cqe->res, cqe->flags}, out, count)) {
            break;  // the rest stays in the CQ for the next wait
        }
        ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    return count;
}

bool uring_backend::dispatch(const stashed_cqe& cqe, std::span<ready_event> out,
                             std::size_t& count) noexcept {
    const std::uint64_t data = cqe.user_data;
    if (data & poll_bit) {
        if (count == out.size()) {
            return false;
        }
        count += on_poll(cqe, out[count]) ? 1 : 0;
    } else if ((data & removal_mask) == removal_tag) {
        on_removal(data, cqe.res);
    } else if (data == wake_tag) {
        arm_wake();
    } else if (data == timer_tag) {
        timer_armed_ = false;
    } else if (data != ignored_tag) {
        auto* op = reinterpret_cast<op_record*>(data);
        if (op->is_poll) {
            on_wait_poll(op, cqe.res);
        } else {
            on_op(op, cqe.res, cqe.flags);
        }
    }
    return true;
}

}  // namespace corio::detail::uring

namespace corio::detail {

result<std::unique_ptr<backend>> open_io_uring(std::string& why, std::uint32_t entries) {
    auto b = std::make_unique<uring::uring_backend>(entries);
    if (auto r = b->open(why); !r) {
        return r.error();
    }
    return std::unique_ptr<backend>(std::move(b));
}

}  // namespace corio::detail
