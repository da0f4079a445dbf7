// SPDX-License-Identifier: MIT
// io_uring backend, readiness: the polls of raw reactor registrations (add, modify, remove;
// reported as readiness events; multishot, or one-shot re-armed for trigger::level) and the
// one-shot poll a readiness wait owns (reported to that wait only, through poll_ready). See
// io_uring.cpp for the ring itself.
#include "backend/io_uring.hpp"

#include <cerrno>

#include <fcntl.h>
#include <poll.h>

namespace corio::detail::uring {
namespace {

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

void uring_backend::arm_poll(int fd, poll_reg& reg, interest want) noexcept {
    reg.mask = poll_mask(want);
    if (reg.mask != 0) {
        prep_poll(fd, reg);
    }
}

void uring_backend::prep_poll(int fd, const poll_reg& reg) noexcept {
    io_uring_sqe* sqe = next_sqe();
    if (reg.level) {
        // One-shot: on_poll re-arms it as it reports, and the SQE goes in at the next wait,
        // after the callbacks ran. Armed on a still-ready descriptor, it completes at once.
        io_uring_prep_poll_add(sqe, fd, reg.mask);
    } else {
        io_uring_prep_poll_multishot(sqe, fd, reg.mask);
    }
    io_uring_sqe_set_data64(sqe, poll_data(fd, reg.generation));
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
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_poll_remove(sqe, removals_[index]);
    io_uring_sqe_set_data64(sqe, (std::uint64_t{index} << 3) | removal_tag);
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

result<void> uring_backend::add(int fd, interest want, std::uint64_t token, trigger mode) {
    // The poll's CQE would report a bad descriptor only later; callers expect it now (with no
    // poll to arm, a native registration skips the check: io_handle adds each socket so).
    const bool checked = want != interest::none || mode == trigger::level;
    if (fd < 0 || (checked && ::fcntl(fd, F_GETFD) < 0)) {
        return std::errc::bad_file_descriptor;
    }
    if (static_cast<std::size_t>(fd) >= polls_.size()) {
        polls_.resize(static_cast<std::size_t>(fd) + 1);
    }
    poll_reg& reg = polls_[static_cast<std::size_t>(fd)];
    reg.generation += 1;  // events of an earlier registration of this fd are now stale
    reg.token = token;
    reg.level = mode == trigger::level;
    arm_poll(fd, reg, want);
    return {};
}

result<void> uring_backend::modify(int fd, interest want, std::uint64_t token, trigger mode) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= polls_.size()) {
        return std::errc::invalid_argument;
    }
    poll_reg& reg = polls_[static_cast<std::size_t>(fd)];
    disarm_poll(fd, reg);
    reg.generation += 1;
    reg.token = token;
    reg.level = mode == trigger::level;
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

bool uring_backend::on_poll(const stashed_cqe& cqe, ready_event& ev) noexcept {
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
    if (!more) {  // a one-shot (level) poll, or the kernel ended a multishot one: keep watching
        arm_poll(fd, reg, static_cast<interest>((reg.mask & POLLIN ? 1 : 0) | (reg.mask & POLLOUT ? 2 : 0)));
    }
    if (cqe.res == -ECANCELED) {
        return false;
    }
    const readiness r = readiness_from_poll(cqe.res < 0 ? POLLERR : static_cast<unsigned>(cqe.res));
    ev = {reg.token, r};
    return true;
}

void uring_backend::poll(io_wait& w, int fd, interest dir) noexcept {
    op_record* op = new_record();
    op->w = &w;
    op->fd = fd;
    op->is_poll = true;
    op->poll_mask = poll_mask(dir);
    w.poll = op;
    arm_wait_poll(*op);
}

void uring_backend::arm_wait_poll(op_record& op) noexcept {
    io_uring_sqe* sqe = next_sqe(&op);
    io_uring_prep_poll_add(sqe, op.fd, op.poll_mask);
    io_uring_sqe_set_data(sqe, &op);
}

void uring_backend::drop_poll(io_wait& w) noexcept {
    auto* op = static_cast<op_record*>(w.poll);
    w.poll = nullptr;
    if (!op) {
        return;
    }
    op->w = nullptr;  // its CQE, if one still comes, only frees the record
    if (unsubmitted(*op)) {
        retract(*op);
        free_record(op);
        return;
    }
    // The poll holds no buffer of the frame, but it holds the file: stop it now, so a
    // descriptor closed after this is closed for real.
    let_go_of_file(op);
}

void uring_backend::on_wait_poll(op_record* op, int res) noexcept {
    op->sqe = nullptr;
    io_wait* w = op->w;
    if (!w) {  // dropped
        free_record(op);
        return;
    }
    const readiness r = readiness_from_poll(res < 0 ? POLLERR : static_cast<unsigned>(res));
    if (poll_ready(*w, r)) {
        free_record(op);
        return;
    }
    arm_wait_poll(*op);  // spurious: the wait goes on, with its own poll
}

}  // namespace corio::detail::uring
