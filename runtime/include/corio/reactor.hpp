// SPDX-License-Identifier: MIT
// reactor: watches descriptors through one backend and calls a callback per readiness event.
#pragma once

#include <corio/interest.hpp>
#include <corio/result.hpp>
#include <corio/token.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace corio {
namespace detail {
class backend;
class completion_port;
struct ready_event;
}  // namespace detail

/// Counters a backend keeps (zero where they do not apply), for benchmarks and tests.
struct reactor_stats {
    std::uint64_t enters = 0;          ///< io_uring_enter calls (io_uring)
    std::uint64_t submissions = 0;     ///< SQEs those calls submitted (io_uring)
    std::uint64_t operations = 0;      ///< operations queued as SQEs (io_uring)
    std::uint64_t buffer_retries = 0;  ///< pooled receives retried after ENOBUFS (io_uring)
    std::uint64_t full_sq_submits = 0;      ///< SQ found full and submitted early (io_uring)
    std::uint64_t cq_overflows = 0;  ///< waits that found the CQ overflowed (kept by the kernel)
    std::uint64_t stashed_completions = 0;  ///< CQEs taken off a full CQ to submit (io_uring)

    /// Adds every counter of `o` (runtime::backend_stats() sums its loops' this way).
    reactor_stats& operator+=(const reactor_stats& o) noexcept {
        enters += o.enters;
        submissions += o.submissions;
        operations += o.operations;
        buffer_retries += o.buffer_retries;
        full_sq_submits += o.full_sq_submits;
        cq_overflows += o.cq_overflows;
        stashed_completions += o.stashed_completions;
        return *this;
    }
};

/// Settings a backend may use; every field has a usable default.
struct reactor_options {
    /// io_uring: submission queue entries (a power of two, 2 to 32768; the completion queue
    /// gets twice as many); 0 = 1024. Other backends ignore it.
    std::uint32_t io_uring_entries = 0;
};

/// How a registration is reported (see reactor::add).
enum class trigger : std::uint8_t {
    /// The backend's own mode, fastest for callers that drain to EAGAIN (io_handle): edge-
    /// triggered on epoll-et and kqueue, level-triggered elsewhere; with interest::none a
    /// hang-up or error may still be reported (epoll, poll).
    native,
    /// Level-triggered on every backend: reported on each poll() while the descriptor stays
    /// ready for a watched direction (for event_loop's callbacks, which may read partially).
    level,
};

/// The dispatcher over one backend (as Redis's ae.c): registrations live in slots named by
/// tokens, and poll() calls each ready slot's callback. One thread uses it; wake() is any-thread.
class reactor {
public:
    /// Called for each event; `context` is what was given to add(). Must not throw.
    using callback = void (*)(void* context, readiness events) noexcept;

    /// Opens the named backend ("" = default_backend_name()). Errors: errc::backend_unavailable
    /// for an unknown or unusable name; std::errc::invalid_argument for an io_uring_entries
    /// that is not 0 or a power of two up to 32768; the OS error if the kernel refuses (EMFILE).
    static result<std::unique_ptr<reactor>> open(std::string_view backend = {},
                                                 const reactor_options& options = {});
    ~reactor();
    reactor(const reactor&) = delete;
    reactor& operator=(const reactor&) = delete;

    /// Starts watching `fd`. Errors: the backend's (EBADF, EPERM for regular files,
    /// errc::fd_set_overflow on select). The fd must stay open until remove(): if a live
    /// registration still names `fd`, its descriptor was closed behind the reactor's back and
    /// the number reused, so that one is dropped first (see claim()).
    /// With trigger::level every backend reports alike: nothing with interest::none (not even
    /// a hang-up); a peer's close as readable to a reader and writable to a writer (the other
    /// direction may be set too: event_loop clears it), plus readiness::hangup where the kernel
    /// tells (all but select).
    result<token> add(int fd, interest want, callback cb, void* context,
                      trigger mode = trigger::native);
    /// The OS has just handed out `fd` (a new socket, an accepted connection): a registration
    /// still naming it is stale. Its callback gets readiness::stale|error once, and it is
    /// removed; a completion backend drops what it keeps for `fd` (completion_port::evict).
    /// Never touches the new file. A no-op when nothing names `fd`.
    void claim(int fd) noexcept;
    /// Replaces the watched directions; a no-op when unchanged. Errors: EINVAL for a stale token.
    result<void> modify(token t, interest want);
    /// Points an existing registration's callback at a new context (after a move).
    void set_context(token t, void* context) noexcept;
    /// Stops watching; events already fetched for it in this batch are dropped.
    result<void> remove(token t);

    /// Waits at most `timeout` (nullopt: until an event or wake()) and dispatches every event.
    /// Returns how many callbacks ran. Errors: the backend's wait error (never EINTR).
    result<std::size_t> poll(std::optional<std::chrono::nanoseconds> timeout);
    /// Makes a blocked poll() return early. Thread-safe.
    void wake() noexcept;
    /// Queues `events` for `t` as if the backend had reported them: the next poll() dispatches
    /// them (without blocking) after the backend's own. Dropped if `t` is removed meanwhile.
    void post(token t, readiness events);
    bool has_posted() const noexcept { return !posted_.empty(); }

    /// The loop is about to run on the calling thread: a backend bound to one thread (io_uring)
    /// moves to it. Throws usage_error if it cannot (io_uring with operations in the kernel).
    void attach_thread();
    std::string_view backend_name() const noexcept;
    reactor_stats stats() const noexcept;
    bool edge_triggered() const noexcept { return edge_triggered_; }
    /// The backend's completion interface (io_uring), or nullptr for a readiness-only backend.
    detail::completion_port* completions() const noexcept { return completions_; }
    /// Calls fn(callback, context) for every live registration (teardown and diagnostics).
    template <class Fn>
    void for_each_registration(Fn&& fn) const {
        for (const slot& s : slots_) {
            if (s.generation & 1) {
                fn(s.cb, s.context);
            }
        }
    }
    /// Number of live registrations.
    std::size_t size() const noexcept { return live_; }

private:
    struct slot {
        int fd = -1;
        interest want = interest::none;
        trigger mode = trigger::native;
        std::uint32_t generation = 0;  // odd while in use, so a stale token never matches
        callback cb = nullptr;
        void* context = nullptr;
        std::uint32_t next_free = 0;
    };
    explicit reactor(std::unique_ptr<detail::backend> b);
    slot* find(token t) noexcept;
    void evict(int fd) noexcept;

    std::unique_ptr<detail::backend> backend_;
    bool edge_triggered_;  // cached: io_handle asks on every event
    detail::completion_port* completions_;  // cached likewise, per operation
    std::vector<slot> slots_;
    // Per descriptor number, 1 + the slot of the live registration naming it (0: none), so
    // a number reused behind the reactor's back is noticed.
    std::vector<std::uint32_t> by_fd_;
    std::uint32_t free_head_ = no_slot;
    std::size_t live_ = 0;
    std::unique_ptr<detail::ready_event[]> events_;
    std::vector<std::pair<token, readiness>> posted_;
    std::vector<std::pair<token, readiness>> dispatching_;
    static constexpr std::uint32_t no_slot = ~std::uint32_t{0};
};

}  // namespace corio
