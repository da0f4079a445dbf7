// SPDX-License-Identifier: MIT
// The io_uring backend, in two parts: io_uring.cpp (the ring, readiness polls, the loop's wait)
// and io_uring_ops.cpp (operations submitted whole, their completions, per-descriptor state).
#pragma once

#include "backend/backend.hpp"

#include <corio/buffer_pool.hpp>

#include <atomic>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

namespace corio::detail::uring {

// user_data of SQEs that are not operations: even values no record can have.
constexpr std::uint64_t ignored_tag = 0;  // cancels, poll removals, timer updates
constexpr std::uint64_t wake_tag = 2;
constexpr std::uint64_t timer_tag = 4;
// Poll registrations: bit 0 set, the fd above it, the registration's generation on top.
constexpr std::uint64_t poll_bit = 1;
// Poll removals: low bits 110 (records are 8-aligned), an index into removals_ above them.
constexpr std::uint64_t removal_tag = 6;
constexpr std::uint64_t removal_mask = 7;

constexpr unsigned default_ring_entries = 1024;
constexpr unsigned default_buffers = 1024;
constexpr unsigned buffer_group = 0;

/// A counter the loop's thread bumps and any thread may read (runtime::backend_stats() sums
/// every loop's while they run): one writer, so a relaxed load and store cost what a plain
/// increment does, with no data race.
class stat_counter {
public:
    void operator+=(std::uint64_t n) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void operator++() noexcept { *this += 1; }
    std::uint64_t load() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

/// reactor_stats, as the loop keeps it.
struct ring_counters {
    stat_counter enters, submissions, operations, buffer_retries, full_sq_submits, cq_overflows,
        stashed_completions;

    reactor_stats load() const noexcept {
        return {enters.load(),         submissions.load(),     operations.load(),
                buffer_retries.load(), full_sq_submits.load(), cq_overflows.load(),
                stashed_completions.load()};
    }
};

/// One submitted operation, or the one-shot poll of a readiness wait; its address is the SQE's
/// user_data, so it never moves.
struct op_record {
    completion* c = nullptr;          // null once abandoned: the CQE then only frees the record
    io_wait* w = nullptr;             // a readiness wait's poll (is_poll); null once dropped
    std::byte* own_buffer = nullptr;  // recv_pooled without a ring buffer (ENOBUFS retry)
    io_uring_sqe* sqe = nullptr;      // its SQE, valid while the kernel has not consumed it
    std::uint64_t seq = 0;            // the SQE's number among all handed out (see unsubmitted)
    msghdr msg{};  // writev as sendmsg: the kernel may read it after the SQE went in
    completion_kind kind{};
    int fd = -1;
    bool cancel_sent = false;
    bool stale = false;        // evicted: its descriptor was closed behind corio's back
    bool plain_write = false;  // writev fell back from sendmsg (not a socket)
    bool is_poll = false;      // dispatched to its readiness wait, never as a completion
    unsigned poll_mask = 0;
    op_record* next_free = nullptr;
};

/// A CQE taken off a full CQ while submitting; handled, in order, at the next reap.
struct stashed_cqe {
    std::uint64_t user_data;
    std::int32_t res;
    std::uint32_t flags;
};

struct poll_reg {
    std::uint32_t generation = 0;
    std::uint64_t token = 0;
    unsigned mask = 0;  // 0: not armed
    bool level = false;  // trigger::level: a one-shot poll re-armed after each report
};

/// Provided buffers for pooled receives: the kernel picks one only when data arrives, so
/// an idle connection holds none. Each is a pooled_buffer-sized block from the thread pool,
/// handed over to the receiver and replaced at once.
class buffer_ring {
public:
    result<void> open(io_uring& ring, unsigned entries) {
        const std::size_t bytes = entries * sizeof(io_uring_buf);
        void* mem = nullptr;
        if (posix_memalign(&mem, static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), bytes) != 0) {
            return std::errc::not_enough_memory;
        }
        std::memset(mem, 0, bytes);
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uintptr_t>(mem);
        reg.ring_entries = entries;
        reg.bgid = buffer_group;
        if (int r = io_uring_register_buf_ring(&ring, &reg, 0); r < 0) {
            std::free(mem);
            return std::error_code(-r, std::system_category());
        }
        br_ = static_cast<io_uring_buf_ring*>(mem);
        ring_ = &ring;
        mask_ = io_uring_buf_ring_mask(entries);
        io_uring_buf_ring_init(br_);
        bufs_.resize(entries);
        for (unsigned i = 0; i < entries; ++i) {
            bufs_[i] = pool_take();
            io_uring_buf_ring_add(br_, bufs_[i], pooled_buffer_size, static_cast<unsigned short>(i),
                                  mask_, static_cast<int>(i));
        }
        io_uring_buf_ring_advance(br_, static_cast<int>(entries));
        return {};
    }
    ~buffer_ring() { close(); }
    void close() noexcept {
        if (!br_) {
            return;
        }
        io_uring_unregister_buf_ring(ring_, buffer_group);
        for (std::byte* b : bufs_) {
            pool_give(b);
        }
        bufs_.clear();
        std::free(br_);
        br_ = nullptr;
    }
    bool is_open() const noexcept { return br_ != nullptr; }
    /// The buffer the kernel filled; a fresh one takes its place in the ring.
    std::byte* take(unsigned id) {
        std::byte* filled = bufs_[id];
        bufs_[id] = pool_take();
        io_uring_buf_ring_add(br_, bufs_[id], pooled_buffer_size, static_cast<unsigned short>(id),
                              mask_, 0);
        io_uring_buf_ring_advance(br_, 1);
        return filled;
    }

private:
    io_uring* ring_ = nullptr;
    io_uring_buf_ring* br_ = nullptr;
    int mask_ = 0;
    std::vector<std::byte*> bufs_;
};

inline unsigned buffers_from_env() {
    const char* env = std::getenv("CORIO_IO_URING_BUFFERS");
    const long n = env ? std::strtol(env, nullptr, 10) : 0;
    if (n < 1 || n > 32768 || (n & (n - 1)) != 0) {  // the kernel wants a power of two
        return default_buffers;
    }
    return static_cast<unsigned>(n);
}

/// A number no other thread of this process has had (pthread_t values and tids are reused as
/// threads come and go; a new thread must never pass for the ring's old owner).
std::uint64_t this_thread_id() noexcept;

class uring_backend final : public backend, public completion_port {
public:
    explicit uring_backend(unsigned entries) : entries_(entries ? entries : default_ring_entries) {}
    uring_backend(const uring_backend&) = delete;
    uring_backend& operator=(const uring_backend&) = delete;

    result<void> open(std::string& why);
    ~uring_backend() override;

    std::string_view name() const noexcept override { return "io_uring"; }
    // Multishot polls report a change once, as EPOLLET does.
    bool edge_triggered() const noexcept override { return true; }
    completion_port* completions() noexcept override { return this; }
    reactor_stats stats() const noexcept override { return stats_.load(); }

    result<void> add(int fd, interest want, std::uint64_t token, trigger mode) override;
    result<void> modify(int fd, interest want, std::uint64_t token, trigger mode) override;
    result<void> remove(int fd) override;
    result<std::size_t> wait(std::span<ready_event> out,
                             std::optional<std::chrono::nanoseconds> timeout) override;
    void attach_thread() override;
    void wake() noexcept override {
        const std::uint64_t one = 1;
        [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
    }

    bool submit(completion& c, const completion_request& r) noexcept override;
    void cancel(completion& c) noexcept override;
    void cancel_for_close(completion& c) noexcept override;
    void abandon(completion& c) noexcept override;
    void forget(int fd) noexcept override;
    void evict(int fd) noexcept override;
    void poll(io_wait& w, int fd, interest dir) noexcept override;
    void drop_poll(io_wait& w) noexcept override;

private:
    int init_ring(io_uring_params& p) noexcept;
    /// An SQE, never null: a full SQ is handed to the kernel first (and a full CQ emptied into
    /// stashed_ so the kernel can take it). `op`, if given, learns the SQE and its number.
    io_uring_sqe* next_sqe(op_record* op = nullptr) noexcept;
    void submit_queued() noexcept;
    void note_consumed() noexcept;
    void stash_completions() noexcept;
    op_record* new_record() noexcept;
    void free_record(op_record* op) noexcept;
    /// Exact: the kernel's SQ head says how many SQEs it has taken, so a partial or failed
    /// submission leaves the rest counted as still ours (to retract, or to submit later).
    bool unsubmitted(const op_record& op) const noexcept { return op.sqe && op.seq >= consumed_; }
    void retract(op_record& op) noexcept;
    bool prepare(op_record& op, const completion_request& r) noexcept;
    void prepare_pooled_recv(io_uring_sqe* sqe, op_record& op) noexcept;
    bool ring_ready() noexcept {
        if (!buffers_.is_open() && !buffers_failed_) {
            buffers_failed_ = !buffers_.open(ring_, buffer_count_);  // lazily: 16 KiB per entry
        }
        return buffers_.is_open();
    }
    void cancel_now(std::uint64_t user_data) noexcept;
    /// Returns once the kernel has cancelled or finished `op`: it touches no buffer after.
    void cancel_sync(op_record* op) noexcept;
    /// As cancel_sync, and on return the kernel holds no reference to op's file either.
    void let_go_of_file(op_record* op) noexcept;

    /// Keeps a connection error a send saw for the reader, and hands it to a read that would
    /// report the end of stream instead; returns the result op's owner gets.
    int note_stream_error(const op_record& op, int res) noexcept;

    void arm_poll(int fd, poll_reg& reg, interest want) noexcept;
    void prep_poll(int fd, const poll_reg& reg) noexcept;
    void disarm_poll(int fd, poll_reg& reg) noexcept;
    void submit_removal(std::size_t index) noexcept;
    void on_removal(std::uint64_t data, int res) noexcept;
    static std::uint64_t poll_data(int fd, std::uint32_t gen) noexcept {
        return poll_bit | (static_cast<std::uint64_t>(fd) << 1) | (std::uint64_t{gen} << 32);
    }
    void arm_wake() noexcept;
    void arm_timer(std::chrono::nanoseconds timeout) noexcept;
    std::size_t reap(std::span<ready_event> out) noexcept;
    /// Handles one CQE; false (and nothing done) when it is a readiness event and `out` is full.
    bool dispatch(const stashed_cqe& cqe, std::span<ready_event> out, std::size_t& count) noexcept;
    bool on_poll(const stashed_cqe& cqe, ready_event& ev) noexcept;
    void on_wait_poll(op_record* op, int res) noexcept;
    void arm_wait_poll(op_record& op) noexcept;
    void on_op(op_record* op, int res, unsigned flags) noexcept;
    void rebuild_ring();

    io_uring ring_{};
    unsigned entries_;
    bool ring_open_ = false;
    int ring_error_ = 0;  // a failure of the ring itself (not of one operation): wait reports it
    unsigned setup_flags_ = 0;
    std::uint64_t issuer_ = 0;  // this_thread_id() of the thread the ring belongs to
    int wakefd_ = -1;
    std::uint64_t wake_value_ = 0;
    std::uint64_t produced_ = 0;  // SQEs handed out
    std::uint64_t consumed_ = 0;  // SQEs the kernel has taken
    unsigned khead_seen_ = 0;     // the kernel's SQ head when consumed_ was last brought up to date
    std::size_t live_records_ = 0;
    std::vector<stashed_cqe> stashed_;
    // Handed out only once the ring has failed, never submitted (room for an SQE128 too).
    alignas(64) std::byte scratch_sqe_[128]{};
    bool timer_armed_ = false;
    std::int64_t timer_deadline_ns_ = 0;
    __kernel_timespec timer_ts_{};
    std::deque<op_record> records_;
    op_record* free_records_ = nullptr;
    std::vector<poll_reg> polls_;
    std::vector<std::uint64_t> removals_;  // polls being removed (0: free entry)
    std::vector<std::size_t> free_removals_;
    // Connection errors a send took that the descriptor's reader has not seen yet (errno by fd).
    std::unordered_map<int, int> stream_errors_;
    buffer_ring buffers_;
    unsigned buffer_count_ = buffers_from_env();
    bool buffers_failed_ = false;
    ring_counters stats_;
};

}  // namespace corio::detail::uring
