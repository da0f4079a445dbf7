// SPDX-License-Identifier: MIT
// scheduler: one thread's run queue, reactor and timers; the loop that drives them.
#pragma once

#include <corio/clock.hpp>
#include <corio/diagnostics.hpp>
#include <corio/detail/io_loop.hpp>
#include <corio/detail/promise_base.hpp>
#include <corio/detail/ready_queue.hpp>
#include <corio/detail/timer_queue.hpp>
#include <corio/detail/waiter.hpp>
#include <corio/reactor.hpp>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <thread>
#include <utility>
#include <vector>

namespace corio::detail {

class blocking_pool;
struct dump_request;

/// A waiter parked on the timer queue (sleeps, timeouts): fires by waking itself.
struct timed_waiter final : waiter, timer_node {
    /// note_park() text of a timed wait: a task dump appends the time left ("+12.3 ms").
    static constexpr const char* until_text = "sleep until";
    timed_waiter() noexcept {
        fire = [](timer_node* n) {
            auto* self = static_cast<timed_waiter*>(n);
            self->wake();
        };
        detach = [](waiter& w) noexcept { static_cast<timed_waiter&>(w).cancel_timer(); };
    }
    void wake();
    void cancel_timer() noexcept;
};

/// Runs coroutines on one thread. Everything but schedule_remote(), request_stop(),
/// request_cancel() and wake() must be called on the thread running the loop.
class scheduler {
public:
    using exception_handler = std::function<void(std::exception_ptr)>;

    scheduler(std::unique_ptr<reactor> r, manual_clock* clock, exception_handler on_exception);
    ~scheduler();
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    /// The scheduler whose loop is running on this thread, or nullptr. For code without a
    /// coroutine handle: a wait finds its loop through its task's promise (loop_of).
    static scheduler* current() noexcept {
        io_loop* l = this_thread_loop;
        return l ? l->sched : nullptr;
    }
    /// What the waits of this loop's tasks read (a task's promise points here).
    io_loop* context() noexcept { return &context_; }

    reactor& io() noexcept { return *reactor_; }
    /// The runtime's pool for blocking calls (shared by all its loops); set by the runtime.
    blocking_pool* blocking() const noexcept { return blocking_; }
    void set_blocking_pool(blocking_pool* pool) noexcept { blocking_ = pool; }
    timer_queue& timers() noexcept { return timers_; }
    clock_type::time_point now() const noexcept {
        return clock_ ? clock_->now() : clock_type::now();
    }
    /// When the loop last came back from the reactor: a clock read that code tolerating a batch's
    /// lag (connection timeouts, arrival times) can share instead of reading the clock again.
    clock_type::time_point polled_at() const noexcept { return clock_ ? clock_->now() : polled_at_; }

    /// Queues h for the next turn; `root` is the task it runs in (stall reports, task dumps).
    void schedule(std::coroutine_handle<> h, promise_base* root = nullptr) { ready_.push(h, root); }
    /// Resumes a parked waiter on this thread's next turn, with `why` as its reason.
    void wake_waiter(waiter& w, std::error_code why);
    /// From any thread: resume h on this scheduler's thread. Wakes the loop only if it is parked
    /// in (or about to enter) its reactor wait, so a burst of hand-offs costs one wake.
    void schedule_remote(std::coroutine_handle<> h, promise_base* root = nullptr);
    /// From any thread: takes ownership of a task frame and runs it detached on this loop, as
    /// spawn() does there. Frames not yet adopted when the scheduler is destroyed are destroyed.
    void spawn_remote(std::coroutine_handle<> h, promise_base& p);
    /// From a stop callback on any thread: cancel the waiter on the loop's thread.
    void request_cancel(waiter& w) noexcept;
    void forget_remote_cancel(waiter& w) noexcept;
    /// The same for a frame's ambient_watch: cancels the wait parked under it when handled.
    void request_cancel(ambient_watch& w) noexcept;
    void forget_remote_cancel(ambient_watch& w) noexcept;
    void unschedule(std::coroutine_handle<> h) noexcept { ready_.erase(h); }
    /// Owner thread: forgets h queued by schedule_remote() (or already moved to the run queue),
    /// for a frame destroyed before it ran. O(n); rare.
    void unschedule_remote(std::coroutine_handle<> h) noexcept;

    /// Takes ownership of a task frame and runs it detached; an exception escaping it goes
    /// to the exception handler.
    void spawn(std::coroutine_handle<> h, promise_base& p);
    void finish_spawned(promise_base& p) noexcept;
    /// Lists `p`, a task of its own that this loop does not own (a task_group child), in the
    /// task dump until untrack(p). Loop thread only.
    void track(promise_base& p) noexcept { link(tracked_head_, p); }
    void untrack(promise_base& p) noexcept { unlink(tracked_head_, p); }
    void report_escaped(std::exception_ptr e) noexcept;
    std::size_t spawned_count() const noexcept { return spawned_; }

    /// Runs the loop until `done` returns true or request_stop() is called.
    /// Returns false when stopped before `done`.
    template <class Done>
    bool run_until(Done&& done) {
        return run_loop([](void* d) { return (*static_cast<Done*>(d))(); }, &done);
    }
    void request_stop() noexcept;
    /// Forgets a stop() that no run consumed (a runtime restarting its other loops).
    void clear_stop() noexcept { stop_requested_.store(false, std::memory_order_release); }
    void wake() noexcept { reactor_->wake(); }

    /// The loops of one runtime: this one's index among them, and its siblings (set once by
    /// the runtime before any loop runs; a lone scheduler is loop 0 of 1).
    void join_group(const std::vector<scheduler*>* loops, unsigned index) noexcept {
        group_ = loops;
        index_ = index;
    }
    unsigned loop_index() const noexcept { return index_; }
    std::size_t loop_count() const noexcept { return group_ ? group_->size() : 1; }
    /// Loop `i` of this runtime (this one for i == loop_index()), or nullptr if out of range.
    scheduler* loop(std::size_t i) noexcept {
        if (!group_) {
            return i == 0 ? this : nullptr;
        }
        return i < group_->size() ? (*group_)[i] : nullptr;
    }
    /// How many times a hand-off from another thread had to wake this loop (coalescing gauge).
    std::uint64_t remote_wakes() const noexcept {
        return remote_wakes_.load(std::memory_order_relaxed);
    }

    /// The task block_on() runs, listed by task dumps; set around block_on().
    void set_block_on_root(promise_base* p) noexcept { block_on_root_ = p; }

    /// Appends this loop's live tasks (block_on's and spawned ones) to `out`. Owner thread only.
    void collect_tasks(std::vector<task_info>& out) const;
    /// From any thread: have the loop answer `r` with collect_tasks at its next turn.
    void request_dump(std::shared_ptr<dump_request> r);

    /// For the stall detector, from any thread: the steady_clock reading (ns since its epoch)
    /// at which the loop last came back from its reactor, 0 while it waits there (or is not
    /// running); and where the task it resumed last was spawned.
    std::int64_t busy_since() const noexcept { return busy_since_.load(std::memory_order_relaxed); }
    std::source_location running_spawned_at() const noexcept {
        return running_at_.load(std::memory_order_relaxed);
    }
    /// From any thread: whether run_until() is running the loop (a hint: it may change at once).
    bool in_run() const noexcept { return in_run_.load(std::memory_order_relaxed); }

    /// How many operations a task may finish without suspending each time it is resumed from
    /// the run queue (tokio's figure): past it, the next one waits for a poll of the loop.
    static constexpr std::uint32_t budget_per_turn = 128;
    /// The longest the loop blocks in one reactor wait for a timer (about 24.8 days, INT32_MAX
    /// ms: what fits every backend's conversion, as in mio); a later deadline is reached by
    /// waiting again. Deadlines at time_point::max() thus never overflow a wait.
    static constexpr std::chrono::milliseconds max_poll_wait{0x7fff'ffff};
    std::uint32_t& budget() noexcept { return context_.budget; }

private:
    bool run_loop(bool (*done)(void*), void* ctx);
    void run_ready_batch();
    void drain_remote();
    void answer_dumps(std::vector<std::shared_ptr<dump_request>>& dumps);
    void mark_busy(clock_type::time_point t) noexcept;
    void notify_remote() noexcept;
    std::optional<std::chrono::nanoseconds> park_timeout();
    std::optional<std::chrono::nanoseconds> poll_timeout();
    void report(std::exception_ptr e) noexcept;

    std::unique_ptr<reactor> reactor_;
    io_loop context_;
    blocking_pool* blocking_ = nullptr;
    timer_queue timers_;
    manual_clock* clock_;
    clock_type::time_point polled_at_ = clock_type::now();
    exception_handler on_exception_;
    ready_queue ready_;
    promise_base* spawned_head_ = nullptr;  // live spawned task frames, owned by us
    promise_base* tracked_head_ = nullptr;  // live task_group children (see track())
    static void link(promise_base*& head, promise_base& p) noexcept;
    static void unlink(promise_base*& head, promise_base& p) noexcept;
    std::size_t spawned_ = 0;
    std::atomic<bool> stop_requested_{false};

    const std::vector<scheduler*>* group_ = nullptr;
    unsigned index_ = 0;

    // Cross-thread hand-off: producers append under the mutex, then set remote_pending_ and wake
    // the loop only if parked_ says it is blocked in (or about to block in) the reactor.
    std::atomic<bool> remote_pending_{false};
    std::atomic<bool> parked_{false};
    bool linger_ = false;  // took a hand-off this turn: poll for the next briefly before parking
    static constexpr std::chrono::microseconds remote_linger{5};
    std::atomic<std::uint64_t> remote_wakes_{0};
    std::mutex remote_mutex_;
    std::vector<ready_entry> remote_ready_;
    std::vector<std::shared_ptr<dump_request>> remote_dumps_;

    // Introspection: the loop's own view (running_), and what the stall detector reads: two
    // relaxed stores per turn, one per resume.
    promise_base* block_on_root_ = nullptr;
    promise_base* running_ = nullptr;  // the root of the coroutine being resumed, loop only
    std::atomic<std::int64_t> busy_since_{0};
    std::atomic<bool> in_run_{false};
    std::atomic<std::source_location> running_at_{};
    std::vector<std::pair<std::coroutine_handle<>, promise_base*>> remote_spawns_;
    std::vector<waiter*> remote_cancels_;
    std::vector<ambient_watch*> remote_watch_cancels_;
};

inline void timed_waiter::wake() { sched->wake_waiter(*this, {}); }
inline void timed_waiter::cancel_timer() noexcept { sched->timers().cancel(*this); }

}  // namespace corio::detail
