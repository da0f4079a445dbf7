// SPDX-License-Identifier: MIT
// The per-thread loop: run ready coroutines, poll the reactor, fire timers.
#include <corio/detail/scheduler.hpp>

#include <corio/detail/io_loop.hpp>
#include <corio/io_handle.hpp>

#include "sigpipe_guard.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>

namespace corio::detail {
namespace {
void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Sets this_thread_loop (the runtime's one thread_local) while a scheduler runs or is
// destroyed: for code without a coroutine handle, and for loop_of's check.
struct current_guard {
    io_loop* saved;
    explicit current_guard(scheduler* s) : saved(std::exchange(this_thread_loop, s->context())) {}
    ~current_guard() { this_thread_loop = saved; }
};
}  // namespace

scheduler::scheduler(std::unique_ptr<reactor> r, manual_clock* clock,
                     exception_handler on_exception)
    : reactor_(std::move(r)),
      context_{this, reactor_->completions(), budget_per_turn},
      timers_(clock ? clock->now() : clock_type::now()),
      clock_(clock),
      on_exception_(std::move(on_exception)) {
    if (clock_) {
        clock_->attached_.store(this, std::memory_order_release);
    }
}

scheduler::~scheduler() {
    current_guard guard(this);  // destructors of parked awaitables look for their scheduler
    ready_.clear();
    std::vector<std::pair<std::coroutine_handle<>, promise_base*>> unadopted;
    {
        std::lock_guard lock(remote_mutex_);
        remote_ready_.clear();
        unadopted.swap(remote_spawns_);
    }
    for (auto& [frame, promise] : unadopted) {
        frame.destroy();  // never started: handed over by spawn_on after this loop's last turn
    }
    while (spawned_head_) {
        promise_base* p = spawned_head_;
        std::coroutine_handle<> frame = p->continuation();  // a spawned task's own handle
        finish_spawned(*p);
        frame.destroy();
    }
    // Handles still registered (owned by the user, not by a frame) must not reach back into
    // this scheduler when they are closed later.
    reactor_->for_each_registration([](reactor::callback cb, void* context) {
        if (cb == &io_handle::on_event) {
            static_cast<io_handle*>(context)->forget_runtime();
        }
    });
    if (clock_) {
        clock_->attached_.store(nullptr, std::memory_order_release);
    }
}

void throw_no_runtime(const char* who) {
    throw usage_error(std::string(who) + ": no runtime is running on this thread");
}

void throw_foreign_thread(const char* who) {
    throw usage_error(std::string(who) +
                      " in a task running on a thread that is not its loop's (a task must be "
                      "resumed only by its own loop: hand work to another loop with spawn_on)");
}

void scheduler::wake_waiter(waiter& w, std::error_code why) {
    if (w.st != waiter::state::parked) {
        return;
    }
    if (w.interrupt) {
        if (!w.reason) {  // the first reason wins; a second would only cancel again
            w.reason = why;
            w.interrupt(w);
        }
        return;
    }
    if (w.detach) {
        w.detach(w);
    }
    w.reason = why;
    w.st = waiter::state::scheduled;
    schedule(w.handle, w.root);
}

void scheduler::schedule_remote(std::coroutine_handle<> h, promise_base* root) {
    // Notified under the lock: drain_remote takes it too, so h cannot run (and its loop cannot
    // finish and destroy this scheduler) until this call no longer touches the scheduler.
    std::lock_guard lock(remote_mutex_);
    remote_ready_.push_back({h, root});
    notify_remote();
}

void scheduler::spawn_remote(std::coroutine_handle<> h, promise_base& p) {
    if (this_thread_loop == &context_) {
        spawn(h, p);
        return;
    }
    std::lock_guard lock(remote_mutex_);  // as in schedule_remote
    remote_spawns_.emplace_back(h, &p);
    notify_remote();
}

void scheduler::notify_remote() noexcept {
    // Pairs with park_timeout(): this stores pending then reads parked_, the loop stores parked_
    // then reads pending (both seq_cst), so at least one of them sees the other. The exchange
    // lets only the first producer of a burst pay for the wake (an eventfd write or msg_ring).
    // Called with remote_mutex_ held (see schedule_remote).
    remote_pending_.store(true, std::memory_order_seq_cst);
    if (parked_.load(std::memory_order_seq_cst) && parked_.exchange(false)) {
        remote_wakes_.fetch_add(1, std::memory_order_relaxed);
        wake();
    }
}

void scheduler::request_cancel(waiter& w) noexcept {
    if (this_thread_loop == &context_) {
        wake_waiter(w, std::make_error_code(std::errc::operation_canceled));
        return;
    }
    std::lock_guard lock(remote_mutex_);  // as in schedule_remote
    remote_cancels_.push_back(&w);
    w.remote_cancel_pending.store(true, std::memory_order_relaxed);
    notify_remote();
}

void scheduler::forget_remote_cancel(waiter& w) noexcept {
    std::lock_guard lock(remote_mutex_);
    std::erase(remote_cancels_, &w);
    w.remote_cancel_pending.store(false, std::memory_order_relaxed);
}

void scheduler::request_cancel(ambient_watch& w) noexcept {
    if (this_thread_loop == &context_) {
        if (w.parked) {
            wake_waiter(*w.parked, std::make_error_code(std::errc::operation_canceled));
        }
        return;
    }
    std::lock_guard lock(remote_mutex_);  // as in schedule_remote
    remote_watch_cancels_.push_back(&w);
    w.remote_cancel_pending.store(true, std::memory_order_relaxed);
    notify_remote();
}

void scheduler::forget_remote_cancel(ambient_watch& w) noexcept {
    std::lock_guard lock(remote_mutex_);
    std::erase(remote_watch_cancels_, &w);
    w.remote_cancel_pending.store(false, std::memory_order_relaxed);
}

void scheduler::unschedule_remote(std::coroutine_handle<> h) noexcept {
    {
        std::lock_guard lock(remote_mutex_);
        std::erase_if(remote_ready_, [h](const ready_entry& e) { return e.handle == h; });
    }
    ready_.erase(h);
}

void scheduler::drain_remote() {
    if (!remote_pending_.exchange(false, std::memory_order_acquire)) {
        return;
    }
    std::vector<waiter*> cancels;
    std::vector<ambient_watch*> watch_cancels;
    std::vector<std::shared_ptr<dump_request>> dumps;
    linger_ = true;  // more hand-offs tend to follow one: see park_timeout()
    {
        std::lock_guard lock(remote_mutex_);
        for (auto e : remote_ready_) {
            ready_.push(e.handle, e.root);
        }
        remote_ready_.clear();
        for (auto& [frame, promise] : remote_spawns_) {
            spawn(frame, *promise);
        }
        remote_spawns_.clear();
        cancels.swap(remote_cancels_);
        dumps.swap(remote_dumps_);
        for (waiter* w : cancels) {
            w->remote_cancel_pending.store(false, std::memory_order_relaxed);
        }
        watch_cancels.swap(remote_watch_cancels_);
        for (ambient_watch* w : watch_cancels) {
            w->remote_cancel_pending.store(false, std::memory_order_relaxed);
        }
    }
    for (waiter* w : cancels) {
        wake_waiter(*w, std::make_error_code(std::errc::operation_canceled));
    }
    // A wait parked after the stop saw it and never parked: what `parked` names now was parked
    // before it, so it is the one to cancel (or nullptr: the frame waits on nothing).
    for (ambient_watch* w : watch_cancels) {
        if (w->parked) {
            wake_waiter(*w->parked, std::make_error_code(std::errc::operation_canceled));
        }
    }
    if (!dumps.empty()) {
        answer_dumps(dumps);  // after the hand-offs above: their tasks show as ready
    }
}

void scheduler::spawn(std::coroutine_handle<> h, promise_base& p) {
    p.set_detached(&context_);
    p.set_continuation(h);  // unused as a continuation once detached; kept to destroy the frame
    link(spawned_head_, p);
    ++spawned_;
    schedule(h, &p);
}

void scheduler::finish_spawned(promise_base& p) noexcept {
    unlink(spawned_head_, p);
    --spawned_;
}

void scheduler::link(promise_base*& head, promise_base& p) noexcept {
    p.detached_next_ = head;
    if (head) {
        head->detached_prev_ = &p;
    }
    head = &p;
}

void scheduler::unlink(promise_base*& head, promise_base& p) noexcept {
    if (p.detached_prev_) {
        p.detached_prev_->detached_next_ = p.detached_next_;
    } else {
        head = p.detached_next_;
    }
    if (p.detached_next_) {
        p.detached_next_->detached_prev_ = p.detached_prev_;
    }
    p.detached_prev_ = p.detached_next_ = nullptr;
}

void scheduler::report(std::exception_ptr e) noexcept {
    try {
        if (on_exception_) {
            on_exception_(e);
            return;
        }
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        fmt::print(stderr, "corio: exception escaped a spawned task: {}\n", ex.what());
    } catch (...) {
        fmt::print(stderr, "corio: exception of unknown type escaped a spawned task\n");
    }
}

std::coroutine_handle<> finish_detached(scheduler& owner, promise_base& p,
                                        std::coroutine_handle<> self) noexcept {
    owner.finish_spawned(p);
    std::exception_ptr e = std::move(p.exception_);
    self.destroy();  // legal: the coroutine is suspended at its final suspend point
    if (e) {
        owner.report_escaped(std::move(e));
    }
    return std::noop_coroutine();
}

void scheduler::report_escaped(std::exception_ptr e) noexcept { report(std::move(e)); }

void scheduler::request_stop() noexcept {
    stop_requested_.store(true, std::memory_order_release);
    wake();  // unconditionally: stop is rare, and must reach a loop blocked without a hand-off
}

void scheduler::run_ready_batch() {
    // Only what was queued before this batch runs now; what it queues waits for the next
    // turn, after a poll, so a busy coroutine cannot starve I/O.
    for (std::size_t n = ready_.size(); n > 0 && !ready_.empty(); --n) {
        context_.budget = budget_per_turn;
        const ready_entry e = ready_.pop();
        if (e.root != running_) {  // coroutines of no known task (nullptr) skip both stores
            running_ = e.root;
            running_at_.store(e.root ? e.root->spawned_at() : std::source_location{},
                              std::memory_order_relaxed);
        }
        e.handle.resume();
    }
    running_ = nullptr;
    running_at_.store({}, std::memory_order_relaxed);  // busy after this is in no known task
}

void scheduler::mark_busy(clock_type::time_point t) noexcept {
    busy_since_.store(t.time_since_epoch().count(), std::memory_order_relaxed);
}

std::optional<std::chrono::nanoseconds> scheduler::poll_timeout() {
    if (!ready_.empty() || reactor_->has_posted() ||
        remote_pending_.load(std::memory_order_acquire)) {
        return std::chrono::nanoseconds(0);
    }
    auto next = timers_.next_deadline();
    if (!next) {
        return std::nullopt;
    }
    // Compared before subtracting: a deadline near time_point::min() minus now overflows, and
    // the wrapped difference would be a wait of centuries for a timer already due.
    const clock_type::time_point t = now();
    if (*next <= t) {
        return std::chrono::nanoseconds(0);
    }
    // A manual clock moves only when advance() wakes us, so wait for that, not for real time.
    if (clock_) {
        return std::nullopt;
    }
    // Both are steady_clock readings and next > t, so the difference fits in a uint64_t.
    const std::uint64_t left = static_cast<std::uint64_t>(next->time_since_epoch().count()) -
                               static_cast<std::uint64_t>(t.time_since_epoch().count());
    // The loop wakes at least this often, then computes the rest: a far-future deadline
    // (time_point::max()) never asks a backend for a wait its own conversions could overflow.
    const auto cap = static_cast<std::uint64_t>(std::chrono::nanoseconds(max_poll_wait).count());
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::min(left, cap)));
}

std::optional<std::chrono::nanoseconds> scheduler::park_timeout() {
    auto timeout = poll_timeout();
    if (timeout && *timeout == std::chrono::nanoseconds(0)) {
        return timeout;
    }
    // Hand-offs come in bursts (a loop spawning a batch, a channel being filled): after taking
    // some, watch for the next one a few microseconds before parking, so a burst costs one wake
    // (about 8 us and a system call each) instead of one per item. Loops that receive nothing
    // from other threads never linger.
    if (std::exchange(linger_, false)) {
        const auto until = clock_type::now() + remote_linger;
        do {
            if (remote_pending_.load(std::memory_order_acquire)) {
                return std::chrono::nanoseconds(0);
            }
            cpu_relax();
        } while (clock_type::now() < until);
    }
    // About to block: from here on a producer must wake us (notify_remote). Checked again after
    // publishing, for a hand-off that came between poll_timeout() and the store.
    parked_.store(true, std::memory_order_seq_cst);
    if (remote_pending_.load(std::memory_order_seq_cst)) {
        parked_.store(false, std::memory_order_relaxed);
        return std::chrono::nanoseconds(0);
    }
    return timeout;
}

bool scheduler::run_loop(bool (*done)(void*), void* ctx) {
    reactor_->attach_thread();
    current_guard guard(this);
    sigpipe_guard no_sigpipe;  // EPIPE instead, from every call the loop makes (see its header)
    struct idle_on_exit {
        scheduler& s;
        ~idle_on_exit() {
            s.busy_since_.store(0, std::memory_order_relaxed);
            s.in_run_.store(false, std::memory_order_relaxed);
        }
    } idle{*this};
    in_run_.store(true, std::memory_order_relaxed);
    mark_busy(clock_type::now());
    for (;;) {
        drain_remote();
        run_ready_batch();
        if (done(ctx)) {
            return true;
        }
        // Consumed here, not cleared at entry: a stop() that comes before run() still counts.
        if (stop_requested_.exchange(false, std::memory_order_acq_rel)) {
            return false;
        }
        const auto timeout = park_timeout();
        busy_since_.store(0, std::memory_order_relaxed);
        auto r = reactor_->poll(timeout);
        parked_.store(false, std::memory_order_relaxed);
        if (!r) {
            throw std::system_error(r.error(), "corio: reactor wait failed");
        }
        polled_at_ = now();
        // Always steady_clock: the stall detector measures real time even under a manual clock.
        mark_busy(clock_ ? clock_type::now() : polled_at_);
        timers_.expire(polled_at_);
    }
}

}  // namespace corio::detail

namespace corio {

void manual_clock::advance(clock_type::duration d) noexcept {
    if (d > clock_type::duration::zero()) {
        // Saturates at time_point::max() (deadline_after): a plain fetch_add would wrap into
        // the past, and time never goes back.
        auto cur = now_ns_.load(std::memory_order_acquire);
        const auto after = [d](clock_type::rep ns) {
            const clock_type::time_point from{clock_type::duration(ns)};
            return detail::deadline_after(from, d).time_since_epoch().count();
        };
        while (!now_ns_.compare_exchange_weak(cur, after(cur), std::memory_order_acq_rel)) {
        }
    }
    if (auto* s = attached_.load(std::memory_order_acquire)) {
        s->wake();
    }
}

void manual_clock::set(clock_type::time_point t) noexcept {
    auto cur = now_ns_.load(std::memory_order_acquire);
    while (t.time_since_epoch().count() > cur &&
           !now_ns_.compare_exchange_weak(cur, t.time_since_epoch().count())) {
    }
    if (auto* s = attached_.load(std::memory_order_acquire)) {
        s->wake();
    }
}

}  // namespace corio
