// SPDX-License-Identifier: MIT
// runtime: owns a scheduler (run queue, reactor, timers) and runs tasks on it.
#pragma once

#include <corio/cancel.hpp>
#include <corio/clock.hpp>
#include <corio/detail/scheduler.hpp>
#include <corio/diagnostics.hpp>
#include <corio/result.hpp>
#include <corio/task.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <source_location>
#include <stop_token>
#include <string>
#include <string_view>

namespace corio {

/// How a runtime is built. Every field has a usable default.
struct runtime_options {
    /// Reactor backend by name (see available_backends()); "" = default_backend_name().
    std::string backend{};
    /// Time source for timers; nullptr = std::chrono::steady_clock. Not owned; must outlive
    /// the runtime.
    manual_clock* clock = nullptr;
    /// Receives exceptions escaping spawned tasks; empty = print to stderr and keep running.
    /// With threads > 1 it is called on the thread of the loop the task ran on.
    std::function<void(std::exception_ptr)> on_unhandled_exception{};
    /// Backend settings, e.g. the io_uring ring size (reactor_options::io_uring_entries).
    reactor_options backend_options{};
    /// How many loops run tasks, each on its own thread with its own reactor and timers
    /// (thread-per-core; tasks never migrate). Loop 0 runs on the thread calling block_on() or
    /// run(); loops 1.. run on threads the runtime starts. 0 counts as 1. A manual clock drives
    /// one loop only: threads > 1 with a clock is an invalid_argument error.
    unsigned threads = 1;
    /// At most this many threads run spawn_blocking() work at once (started on demand); 0
    /// counts as 1.
    std::size_t blocking_threads = 64;
    /// The stall detector: a loop that runs this long without returning to its reactor (one
    /// task computing, or blocking in a system call) is reported once, through on_stall. A
    /// watchdog thread checks every loop about four times per threshold; zero disables it (no
    /// thread then).
    std::chrono::milliseconds stall_threshold{100};
    /// Receives each stall report, on the watchdog thread (keep it short; it must not touch
    /// the runtime); empty = print stall_report::to_string() to stderr.
    std::function<void(const stall_report&)> on_stall{};
};

namespace detail {
class loop_group;

/// The coroutine block_on drives: starts a task and stops at the end (no result of its own).
struct root_task {
    struct promise_type {
        root_task get_return_object() noexcept {
            return {std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        std::suspend_always final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        void unhandled_exception() const noexcept { std::terminate(); }  // start_child cannot throw
    };
    std::coroutine_handle<promise_type> h;
};
struct start_child {
    std::coroutine_handle<> child;
    promise_base& p;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> self) noexcept {
        p.set_continuation(self);
        return child;
    }
    void await_resume() const noexcept {}
};
inline root_task drive(std::coroutine_handle<> child, promise_base& p) {
    co_await start_child{child, p};
}
}  // namespace detail

/// A coroutine runtime of one or more loops (runtime_options::threads), each a reactor and a
/// timer queue on its own thread; a task runs on the loop it was spawned on. Loop 0 is driven by
/// the thread calling block_on()/run(): create, block_on, run, spawn and destroy the runtime
/// on that thread; stop(), spawn_on() and threads() are thread-safe. Loop threads block SIGPIPE
/// (writes give EPIPE instead; docs/design.md "SIGPIPE").
class runtime {
public:
    /// Builds a runtime and starts loops 1.. (they run until stop() or destruction). Errors:
    /// errc::backend_unavailable for an unknown backend name; the OS error from creating a
    /// backend (e.g. EMFILE) or a thread; std::errc::invalid_argument for threads > 1 with a
    /// manual clock.
    static result<runtime> create(runtime_options options = {});
    /// As create(), but throws std::system_error on failure.
    explicit runtime(runtime_options options = {});
    runtime(runtime&&) noexcept;
    runtime& operator=(runtime&&) noexcept;
    /// Stops every loop, then destroys every spawned task still suspended (their frames and
    /// what they own), each loop's on its own thread, and joins the loop threads. Frees all it
    /// holds also as a thread_local destroyed at thread exit, after the thread's frame and
    /// buffer caches.
    ~runtime();

    /// Runs loop 0 until `t` (on loop 0) finishes and returns its value, or rethrows its
    /// exception. Spawned tasks run meanwhile; loops stopped by stop() start again. If stop() is
    /// called first, throws std::system_error holding std::errc::operation_canceled (`t` is
    /// destroyed unfinished).
    template <class T>
    T block_on(task<T> t, std::source_location loc = std::source_location::current()) {
        auto h = t.handle();
        if (!t.valid()) {
            throw usage_error("corio::runtime::block_on: empty or already awaited task");
        }
        restart_loops();
        detail::root_task root = detail::drive(h, h.promise());
        h.promise().make_root(loc);
        h.promise().set_loop(sched_->context());
        struct root_guard {
            std::coroutine_handle<> h;
            detail::scheduler* s;
            ~root_guard() {
                s->set_block_on_root(nullptr);
                h.destroy();
            }
        } guard{root.h, sched_};
        sched_->set_block_on_root(&h.promise());
        sched_->schedule(root.h, &h.promise());
        if (!sched_->run_until([&] { return root.h.done(); })) {
            throw std::system_error(std::make_error_code(std::errc::operation_canceled),
                                    "corio::runtime::block_on: runtime stopped");
        }
        return h.promise().take_result();
    }

    /// Runs `t` detached: the runtime owns it until it finishes or the runtime is destroyed.
    /// Its result is discarded; an escaping exception goes to on_unhandled_exception. `loc`
    /// (the caller's) is what dump_tasks() and stall reports name the task by.
    template <class T>
    void spawn(task<T> t, std::source_location loc = std::source_location::current()) {
        auto h = t.release();
        if (!h) {
            throw usage_error("corio::runtime::spawn: empty task");
        }
        h.promise().make_root(loc);
        sched_->spawn(h, h.promise());
    }
    /// As spawn(t), with `token` as its ambient stop token (see corio::spawn(t, token)).
    template <class T>
    void spawn(task<T> t, std::stop_token token,
               std::source_location loc = std::source_location::current()) {
        spawn(with_stop_token(std::move(token), std::move(t)), loc);
    }
    /// Runs `t` detached on loop `loop` (0 .. threads()-1) from any thread; it starts at that
    /// loop's next turn, and stays there. Throws usage_error for an empty task or a loop out of
    /// range. If the runtime is destroyed before the loop took it, the task is destroyed unrun.
    template <class T>
    void spawn_on(unsigned loop, task<T> t,
                  std::source_location loc = std::source_location::current()) {
        auto h = t.release();
        if (!h) {
            throw usage_error("corio::runtime::spawn_on: empty task");
        }
        h.promise().make_root(loc);
        loop_at(loop, h).spawn_remote(h, h.promise());
    }

    /// Runs loop 0 until stop() is called (loops 1.. run meanwhile, and again if stopped).
    void run();
    /// Makes every loop return at its next turn: the running block_on()/run() returns, and loops
    /// 1.. wait for the next block_on()/run(). Thread-safe, and callable from any task.
    void stop() noexcept;

    /// The number of loops (runtime_options::threads).
    unsigned threads() const noexcept;
    std::string_view backend_name() const noexcept;
    /// The backends' counters (io_uring: enters, SQEs), summed over the loops; zero where a
    /// backend keeps none. Callable from any thread while the loops run: each counter is read
    /// atomically, but the loops go on counting, so the sum is not one instant's snapshot.
    reactor_stats backend_stats() const noexcept;

    /// Lists every live task (block_on's and the spawned ones): its loop, where it was
    /// spawned, and whether it runs, is ready, or waits, and on what. Each loop lists its own
    /// tasks on its own thread at its next turn; the caller waits up to `per_loop_timeout` for
    /// them all, and a loop that did not answer (stalled in a task, or stopped) is named in
    /// task_dump::silent_loops. Callable from any task on any loop, and from any thread while
    /// the runtime runs; outside block_on()/run(), call it on the runtime's own thread (loop
    /// 0 is then read directly). Costs the running loops nothing until called: a few stores
    /// per wait and per resume keep what it reads up to date. Throws std::bad_alloc only.
    task_dump dump_tasks(
        std::chrono::milliseconds per_loop_timeout = std::chrono::milliseconds(100)) const;

private:
    explicit runtime(std::unique_ptr<detail::loop_group> group) noexcept;
    void restart_loops() noexcept;
    // Destroys an unstarted frame before complaining, as spawn does for an empty task.
    detail::scheduler& loop_at(unsigned loop, std::coroutine_handle<> frame);
    std::unique_ptr<detail::loop_group> group_;
    detail::scheduler* sched_ = nullptr;  // loop 0, owned by group_
};

/// Spawns `t` detached on loop `loop` of the runtime running the calling coroutine, from any
/// loop (see runtime::spawn_on). Throws usage_error outside a runtime, for an empty task or a
/// loop out of range.
template <class T>
void spawn_on(unsigned loop, task<T> t, std::source_location loc = std::source_location::current()) {
    auto* s = detail::scheduler::current();
    if (!s) {
        throw usage_error("corio::spawn_on: no runtime is running on this thread");
    }
    auto h = t.release();
    if (!h) {
        throw usage_error("corio::spawn_on: empty task");
    }
    detail::scheduler* target = s->loop(loop);
    if (!target) {
        h.destroy();
        throw usage_error("corio::spawn_on: no such loop in this runtime");
    }
    h.promise().make_root(loc);
    target->spawn_remote(h, h.promise());
}

/// The index of the loop running the calling code (0 .. its runtime's threads()-1). Throws
/// usage_error outside a runtime.
inline unsigned current_loop() {
    auto* s = detail::scheduler::current();
    if (!s) {
        throw usage_error("corio::current_loop: no runtime is running on this thread");
    }
    return s->loop_index();
}

/// Spawns `t` detached on the loop running the calling coroutine: it runs on, unowned by the
/// caller, until it finishes or the runtime is destroyed, and it does not inherit the caller's
/// cancellation (with_timeout around the caller does not reach it; use a task_group for
/// children that must end with their parent). `loc` (the caller's) names the task in
/// runtime::dump_tasks() and stall reports. Throws usage_error outside a runtime.
template <class T>
void spawn(task<T> t, std::source_location loc = std::source_location::current()) {
    auto* s = detail::scheduler::current();
    if (!s) {
        throw usage_error("corio::spawn: no runtime is running on this thread");
    }
    auto h = t.release();
    if (!h) {
        throw usage_error("corio::spawn: empty task");
    }
    h.promise().make_root(loc);
    s->spawn(h, h.promise());
}

/// As spawn(t), with `token` as the task's ambient stop token: once it is stopped, every wait
/// inside `t`, however deep, resumes with operation_canceled. The token's stop_source may live
/// on any thread and must not be what `t` alone keeps alive.
template <class T>
void spawn(task<T> t, std::stop_token token,
           std::source_location loc = std::source_location::current()) {
    spawn(with_stop_token(std::move(token), std::move(t)), loc);
}

/// Suspends the calling task and puts it at the back of the run queue.
/// If the task is destroyed while queued (block_on stopped), it leaves the queue too.
/// Throws usage_error outside a runtime, or in a task resumed on a thread not its loop's.
class yield {
public:
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    void await_suspend(std::coroutine_handle<Promise> h) {
        detail::scheduler* s = detail::loop_of(h, "corio::yield").sched;
        w_.sched = s;
        w_.handle = h;
        w_.st = detail::waiter::state::scheduled;
        w_.note_park(detail::root_of(h), "yield");
        s->schedule(h, w_.root);
    }
    void await_resume() noexcept { w_.st = detail::waiter::state::idle; }

private:
    detail::waiter w_;  // scheduled while queued: its destructor then unqueues the handle
};

}  // namespace corio
