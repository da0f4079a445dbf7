// SPDX-License-Identifier: MIT
// task_group: structured concurrency; children that cannot outlive their group.
#pragma once

#include <corio/cancel.hpp>
#include <corio/detail/compose_child.hpp>
#include <corio/detail/scheduler.hpp>
#include <corio/detail/waiter.hpp>
#include <corio/error.hpp>
#include <corio/task.hpp>

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <source_location>
#include <stop_token>
#include <utility>

namespace corio {

/// How a task_group treats its children. Every field has a usable default.
struct task_group_options {
    /// The first child to throw cancels the group (its siblings' waits resume with
    /// operation_canceled); otherwise siblings run on and join() still rethrows that exception.
    bool cancel_on_error = false;
    /// Stops the group once stopped (at construction if it already is), for the group's whole
    /// life: pass the creating task's token (`co_await this_task::stop_token()`) to have its
    /// cancellation reach the children before join() is awaited.
    std::stop_token stop_token{};
};

/// A set of child tasks that run concurrently on one loop and never outlive the group.
/// spawn() starts a child at once: it runs inside spawn() until it first suspends or ends, then
/// on as its waits complete. Every child's ambient stop token is the group's, which stops on
/// cancel(), on the first exception with cancel_on_error, on options.stop_token, on the
/// ambient token of a task awaiting join() (while it waits, and at once if that token is already
/// stopped), and when the group is destroyed. Once stopped it stays stopped: a later child
/// starts cancelled. Children's results are dropped; the first exception is kept for join().
///
/// Destroying the group with children still running requests stop and then destroys the frames
/// of the children still suspended, right there: their waits unlink themselves (their
/// destructors run, as for any destroyed task) and nothing resumes them later; they do not get
/// to observe the cancellation. To let children finish cleanly, cancel() and join() first.
/// An exception not collected by join() is dropped with the group.
/// One loop: spawn, cancel, join and destruction on the thread of the loop the first child was
/// spawned on (cancel() and options.stop_token may also be stopped from any thread).
class task_group {
    using child_promise = detail::compose_child::promise_type;

public:
    explicit task_group(task_group_options options = {})
        : cancel_on_error_(options.cancel_on_error) {
        if (options.stop_token.stop_possible()) {
            parent_link_.emplace(options.stop_token, detail::request_stop_on{&source_});
        }
    }
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;
    /// Requests stop, then destroys every child still suspended (see the class comment).
    ~task_group() {
        source_.request_stop();
        while (head_) {
            child_promise* p = head_;
            unlink(*p);
            std::coroutine_handle<child_promise>::from_promise(*p).destroy();
        }
        if (joiner_) {  // destroyed under a join() (a usage error): do not leave it hanging
            joiner_->sched->wake_waiter(*joiner_, make_error_code(errc::closed));
        }
    }

    /// Starts `t` as a child on the calling loop; it runs here until it first suspends or ends.
    /// runtime::dump_tasks() lists it as a task of its own, spawned from `at`. Throws
    /// usage_error outside a running loop, on another loop than the group's first child's, or
    /// for an empty or already awaited task.
    template <class T>
    void spawn(task<T> t, std::source_location at = std::source_location::current()) {
        auto* s = detail::scheduler::current();
        if (!s) {
            throw usage_error("corio::task_group::spawn: no runtime is running on this thread");
        }
        if (sched_ && sched_ != s) {
            throw usage_error("corio::task_group::spawn: the group belongs to another loop");
        }
        if (!t.valid()) {
            throw usage_error("corio::task_group::spawn: empty or already awaited task");
        }
        sched_ = s;
        auto h = detail::run_child_dropping(std::move(t)).release();
        h.promise().track_on(*s, at);
        link(h.promise());
        // The child may end (and free its frame) before start() returns: h is not used again.
        detail::compose_child::start(h, this, &child_done, 0, &token_);
    }

    /// Stops the group's token: every child's waits resume with operation_canceled, and later
    /// children start cancelled. Idempotent; any thread.
    void cancel() noexcept { source_.request_stop(); }
    /// The group's stop token (the ambient token of its children).
    std::stop_token token() const noexcept { return token_; }
    /// How many children have not ended yet.
    std::size_t size() const noexcept { return live_; }

    /// The awaitable of join().
    class [[nodiscard]] join_awaitable {
    public:
        explicit join_awaitable(task_group& g) noexcept : g_(&g) {}
        join_awaitable(const join_awaitable&) = delete;
        join_awaitable& operator=(const join_awaitable&) = delete;
        bool await_ready() const noexcept { return g_->live_ == 0; }
        template <class Promise>
        bool await_suspend(std::coroutine_handle<Promise> h) {
            n_.note_park(detail::root_of(h), "join of a task_group");
            return suspend(h, detail::ambient_stop_of(h));
        }
        void await_resume() {
            n_.st = detail::waiter::state::idle;
            if (n_.reason) {
                throw usage_error("corio::task_group::join: the group was destroyed meanwhile");
            }
            g_->join_link_.reset();
            if (auto e = std::exchange(g_->error_, {})) {
                std::rethrow_exception(e);
            }
        }

    private:
        struct node final : detail::waiter {
            task_group* group = nullptr;
        };
        bool suspend(std::coroutine_handle<> h, const std::stop_token* ambient) {
            if (g_->joiner_) {
                throw usage_error("corio::task_group::join: another task is joining the group");
            }
            if (detail::scheduler::current() != g_->sched_) {
                throw usage_error("corio::task_group::join: the group belongs to another loop");
            }
            if (ambient && ambient->stop_possible()) {
                // Cancelling the joiner cancels the children; join still waits for them all.
                g_->join_link_.emplace(*ambient, detail::request_stop_on{&g_->source_});
            }
            if (g_->live_ == 0) {
                return false;
            }
            n_.sched = g_->sched_;
            n_.handle = h;
            n_.group = g_;
            n_.st = detail::waiter::state::parked;
            n_.detach = [](detail::waiter& w) noexcept {
                auto& self = static_cast<node&>(w);
                self.group->joiner_ = nullptr;
                self.group->join_link_.reset();
                self.st = detail::waiter::state::idle;
            };
            g_->joiner_ = &n_;
            return true;
        }

        task_group* g_;
        node n_;
    };

    /// Waits until every child has ended, those spawned while it waits included, and rethrows
    /// the first exception a child threw (once: it is then cleared). Not cancellable: a stop of
    /// the joining task's ambient token cancels the children instead, and join returns once
    /// they have ended. At once if no child is running. Throws usage_error if another task is
    /// already joining, or (when it has to wait) from another loop than the group's.
    join_awaitable join() noexcept { return join_awaitable{*this}; }

private:
    void link(child_promise& p) noexcept {
        p.prev = nullptr;
        p.next = head_;
        if (head_) {
            head_->prev = &p;
        }
        head_ = &p;
        ++live_;
    }
    void unlink(child_promise& p) noexcept {
        (p.prev ? p.prev->next : head_) = p.next;
        if (p.next) {
            p.next->prev = p.prev;
        }
        p.prev = p.next = nullptr;
        --live_;
    }
    static std::coroutine_handle<> child_done(child_promise& p) noexcept {
        auto& g = *static_cast<task_group*>(p.parent);
        if (p.exception_ && !g.error_) {
            g.error_ = std::move(p.exception_);
            if (g.cancel_on_error_) {
                g.source_.request_stop();
            }
        }
        g.unlink(p);
        std::coroutine_handle<child_promise>::from_promise(p).destroy();
        if (g.live_ == 0 && g.joiner_) {
            g.joiner_->sched->wake_waiter(*g.joiner_, {});
        }
        return std::noop_coroutine();
    }

    std::stop_source source_;
    std::stop_token token_ = source_.get_token();
    std::optional<std::stop_callback<detail::request_stop_on>> parent_link_;
    // The ambient token of the task awaiting join(), linked while it waits.
    std::optional<std::stop_callback<detail::request_stop_on>> join_link_;
    bool cancel_on_error_;
    detail::scheduler* sched_ = nullptr;
    child_promise* head_ = nullptr;
    std::size_t live_ = 0;
    std::exception_ptr error_;
    detail::waiter* joiner_ = nullptr;
};

}  // namespace corio
