// SPDX-License-Identifier: MIT
// The io_uring backend: a completion backend. recv, send, writev, read, accept (multishot) and
// connect go to the kernel whole, as SQEs, and their CQEs carry the result; what only needs
// readiness (wait_ready, generic perform) becomes a multishot POLL_ADD. SQEs queue up while
// coroutines run and go in with the loop's one io_uring_enter, which also waits.
#include "backend/backend.hpp"

#include <corio/buffer_pool.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <new>
#include <poll.h>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <liburing.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace corio::detail {
namespace {

// user_data of SQEs that are not operations: even values no record can have.
constexpr std::uint64_t ignored_tag = 0;  // cancels, poll removals, timer updates
constexpr std::uint64_t wake_tag = 2;
constexpr std::uint64_t timer_tag = 4;
// Poll registrations: bit 0 set, the fd above it, the registration's generation on top.
constexpr std::uint64_t poll_bit = 1;
// Poll removals: low bits 110 (records are 8-aligned), an index into removals_ above them.
constexpr std::uint64_t removal_tag = 6;
constexpr std::uint64_t removal_mask = 7;

constexpr unsigned ring_entries = 1024;
constexpr unsigned default_buffers = 1024;
constexpr unsigned buffer_group = 0;
// Results a multishot may queue before it is stopped (the owner is not taking them).
constexpr std::size_t max_queued_shots = 16;

/// One submitted operation; its address is the SQE's user_data, so it never moves.
struct op_record {
    completion* c = nullptr;          // null once abandoned: the CQE then only frees the record
    std::byte* own_buffer = nullptr;  // recv_pooled without a ring buffer (ENOBUFS retry)
    io_uring_sqe* sqe = nullptr;      // valid while the batch it was queued in is unsubmitted
    std::uint64_t batch = 0;
    msghdr msg{};  // writev as sendmsg: the kernel may read it after the SQE went in
    completion_kind kind{};
    int fd = -1;
    bool multishot = false;
    bool cancel_sent = false;
    bool plain_write = false;  // writev fell back from sendmsg (not a socket)
    op_record* next_free = nullptr;
};

/// A result a multishot operation produced before anyone asked: an accepted descriptor, or
/// bytes in a ring buffer (res is their count), or the end of stream (0) or an error.
struct shot {
    std::int32_t res;
    std::byte* buffer;
};

/// A descriptor with a multishot accept or receive armed: the kernel keeps producing results,
/// its owner takes them one at a time.
struct multishot_state {
    op_record* armed = nullptr;
    std::vector<shot> ready;  // a vector: empty costs nothing, and it stays a few entries long
    completion* waiter = nullptr;
    completion_kind waiter_kind{};     // recv copies into waiter_span; the others hand over
    std::span<std::byte> waiter_span;
};

struct poll_reg {
    std::uint32_t generation = 0;
    std::uint64_t token = 0;
    unsigned mask = 0;  // 0: not armed
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

unsigned buffers_from_env() {
    const char* env = std::getenv("CORIO_IO_URING_BUFFERS");
    const long n = env ? std::strtol(env, nullptr, 10) : 0;
    if (n < 1 || n > 32768 || (n & (n - 1)) != 0) {  // the kernel wants a power of two
        return default_buffers;
    }
    return static_cast<unsigned>(n);
}

class uring_backend final : public backend, public completion_port {
public:
    uring_backend() = default;
    uring_backend(const uring_backend&) = delete;
    uring_backend& operator=(const uring_backend&) = delete;

    result<void> open(std::string& why);
    ~uring_backend() override;

    std::string_view name() const noexcept override { return "io_uring"; }
    // Multishot polls report a change once, as EPOLLET does.
    bool edge_triggered() const noexcept override { return true; }
    completion_port* completions() noexcept override { return this; }
    reactor_stats stats() const noexcept override { return stats_; }

    result<void> add(int fd, interest want, std::uint64_t token) override;
    result<void> modify(int fd, interest want, std::uint64_t token) override;
    result<void> remove(int fd) override;
    result<std::size_t> wait(std::span<ready_event> out,
                             std::optional<std::chrono::nanoseconds> timeout) override;
    void wake() noexcept override {
        const std::uint64_t one = 1;
        [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
    }

    bool submit(completion& c, const completion_request& r) noexcept override;
    void cancel(completion& c) noexcept override;
    void abandon(completion& c) noexcept override;
    void forget(int fd) noexcept override;

private:
    int init_ring(io_uring_params& p) noexcept;
    void ensure_issuer() noexcept;
    io_uring_sqe* next_sqe() noexcept;
    op_record* new_record() noexcept;
    void free_record(op_record* op) noexcept;
    bool unsubmitted(const op_record& op) const noexcept { return op.sqe && op.batch == batch_; }
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

    bool submit_multishot(completion& c, const completion_request& r) noexcept;
    void arm_multishot(multishot_state& st, int fd, completion_kind kind) noexcept;
    void hand_over(multishot_state& st, completion& c, completion_kind kind,
                   std::span<std::byte> into) noexcept;
    void on_multishot(op_record* op, int res, unsigned flags) noexcept;
    void rearm_for_waiter(multishot_state& st, int fd, bool dry) noexcept;
    static void give_back(const shot& s, completion_kind kind) noexcept;

    void arm_poll(int fd, poll_reg& reg, interest want) noexcept;
    void disarm_poll(int fd, poll_reg& reg) noexcept;
    void submit_removal(std::size_t index) noexcept;
    void on_removal(std::uint64_t data, int res) noexcept;
    static std::uint64_t poll_data(int fd, std::uint32_t gen) noexcept {
        return poll_bit | (static_cast<std::uint64_t>(fd) << 1) | (std::uint64_t{gen} << 32);
    }
    void arm_wake() noexcept;
    void arm_timer(std::chrono::nanoseconds timeout) noexcept;
    std::size_t reap(std::span<ready_event> out) noexcept;
    bool on_poll(const io_uring_cqe& cqe, ready_event& ev) noexcept;
    void on_op(op_record* op, int res, unsigned flags) noexcept;

    io_uring ring_{};
    bool ring_open_ = false;
    unsigned setup_flags_ = 0;
    pthread_t issuer_ = pthread_self();
    int wakefd_ = -1;
    std::uint64_t wake_value_ = 0;
    std::uint64_t batch_ = 1;  // how many times the SQ was submitted
    bool timer_armed_ = false;
    std::int64_t timer_deadline_ns_ = 0;
    __kernel_timespec timer_ts_{};
    std::deque<op_record> records_;
    op_record* free_records_ = nullptr;
    std::vector<poll_reg> polls_;
    std::vector<std::uint64_t> removals_;  // polls being removed (0: free entry)
    std::vector<std::size_t> free_removals_;
    std::unordered_map<int, multishot_state> streams_;  // by descriptor
    buffer_ring buffers_;
    unsigned buffer_count_ = buffers_from_env();
    bool buffers_failed_ = false;
    reactor_stats stats_;
};

std::error_code from_res(int res) { return {-res, std::system_category()}; }

std::int64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
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
    io_uring_sqe* sqe = next_sqe();
    if (!sqe) {
        return false;
    }
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
        return false;  // submit_accept's
    }
    io_uring_sqe_set_data(sqe, &op);
    op.sqe = sqe;
    op.batch = batch_;
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
    if (op->multishot) {  // waiting on a multishot: it stays armed, results queue up
        auto it = streams_.find(op->fd);
        if (it != streams_.end() && it->second.waiter == &c) {
            it->second.waiter = nullptr;
        }
        c.op = nullptr;
        c.res = -ECANCELED;
        complete(c);
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
    if (io_uring_sqe* sqe = next_sqe()) {
        io_uring_prep_cancel64(sqe, user_data, 0);
        io_uring_sqe_set_data64(sqe, ignored_tag);
    }
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
    io_uring_sync_cancel_reg reg{};
    reg.addr = reinterpret_cast<std::uint64_t>(op);
    reg.timeout.tv_sec = reg.timeout.tv_nsec = -1;
    io_uring_register_sync_cancel(&ring_, &reg);  // ENOENT: it had completed already
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
    io_uring_sqe* sqe = next_sqe();
    if (!sqe) {
        return;
    }
    op_record* op = new_record();
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
    op->sqe = sqe;
    op->batch = batch_;
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
        } else if (kind == completion_kind::accept) {
            // Synchronously: until the kernel drops its reference the socket keeps listening,
            // and a port closed here must be free (and refuse connections) at once.
            io_uring_sync_cancel_reg reg{};
            reg.addr = reinterpret_cast<std::uint64_t>(op);
            reg.timeout.tv_sec = reg.timeout.tv_nsec = -1;
            io_uring_register_sync_cancel(&ring_, &reg);
            // The request lets go of the file only when its completion is flushed, which a
            // single-issuer ring defers until it is next entered: enter now.
            io_uring_get_events(&ring_);
        } else {
            cancel_now(reinterpret_cast<std::uint64_t>(op));  // its last CQE frees it
        }
    }
    for (const shot& s : st.ready) {
        give_back(s, kind);
    }
    streams_.erase(it);
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
    readiness r;
    const unsigned e = cqe.res < 0 ? POLLERR : static_cast<unsigned>(cqe.res);
    if (e & (POLLIN | POLLPRI)) {
        r.bits |= readiness::readable;
    }
    if (e & POLLOUT) {
        r.bits |= readiness::writable;
    }
    if (e & (POLLHUP | POLLRDHUP)) {
        r.bits |= readiness::hangup | readiness::readable;
    }
    if (e & POLLHUP) {
        r.bits |= readiness::writable;
    }
    if (e & POLLERR) {
        r.bits |= readiness::error | readiness::readable | readiness::writable;
    }
    ev = {reg.token, r};
    return true;
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
        if (io_uring_sqe* sqe = next_sqe()) {
            io_uring_prep_writev(sqe, op->fd, op->msg.msg_iov, static_cast<unsigned>(op->msg.msg_iovlen),
                                 static_cast<__u64>(-1));
            io_uring_sqe_set_data(sqe, op);
            op->sqe = sqe;
            op->batch = batch_;
            op->plain_write = true;
            return;
        }
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

}  // namespace

result<std::unique_ptr<backend>> open_io_uring(std::string& why) {
    auto b = std::make_unique<uring_backend>();
    if (auto r = b->open(why); !r) {
        return r.error();
    }
    return std::unique_ptr<backend>(std::move(b));
}

}  // namespace corio::detail
