// SPDX-License-Identifier: MIT
// event: a manual-reset flag that tasks can wait on.
#pragma once

#include <corio/detail/scheduler.hpp>
#include <corio/detail/waiter.hpp>
#include <corio/error.hpp>
#include <corio/result.hpp>

#include <coroutine>
#include <stop_token>

namespace corio {

/// A flag tasks wait for: set() resumes every waiter, and later waits complete at once until
/// reset(). Single runtime: set/reset/wait on the runtime's own thread.
class event {
    struct wait_node final : detail::waiter {
        event* owner = nullptr;
        wait_node* prev = nullptr;
        wait_node* next = nullptr;
    };

public:
    event() noexcept = default;
    event(const event&) = delete;
    event& operator=(const event&) = delete;
    ~event() {
        while (head_) {
            head_->sched->wake_waiter(*head_, make_error_code(errc::closed));
        }
    }

    bool is_set() const noexcept { return set_; }
    /// Sets the flag and resumes every waiting task (in the order they started waiting).
    void set() noexcept {
        set_ = true;
        while (head_) {
            head_->sched->wake_waiter(*head_, {});
        }
    }
    void reset() noexcept { set_ = false; }

    /// The awaitable of wait(): success once the flag is set; operation_canceled if a stop
    /// token fires first; errc::closed if the event is destroyed first.
    class [[nodiscard]] awaitable {
    public:
        awaitable(event& e, std::stop_token t) : e_(e), token_(std::move(t)) { n_.owner = &e; }
        bool await_ready() const noexcept { return e_.set_; }
        template <class Promise>
        bool await_suspend(std::coroutine_handle<Promise> h) {
            auto* s = detail::scheduler::current();
            if (!s) {
                throw usage_error("corio::event: no runtime is running on this thread");
            }
            n_.sched = s;
            n_.handle = h;
            n_.note_park(detail::root_of(h), "event");
            e_.link(n_);
            return n_.watch_stop(token_, detail::ambient_stop_of(h));
        }
        result<void> await_resume() noexcept {
            n_.st = detail::waiter::state::idle;
            return n_.reason;
        }

    private:
        event& e_;
        std::stop_token token_;
        wait_node n_;
    };

    /// Waits until the flag is set (at once if it is). Errors as on awaitable.
    awaitable wait(std::stop_token token = {}) { return {*this, std::move(token)}; }

private:
    void link(wait_node& n) noexcept {
        n.prev = tail_;
        n.next = nullptr;
        (tail_ ? tail_->next : head_) = &n;
        tail_ = &n;
        n.st = detail::waiter::state::parked;
        n.detach = [](detail::waiter& w) noexcept {
            auto& node = static_cast<wait_node&>(w);
            node.owner->unlink(node);
        };
    }
    void unlink(wait_node& n) noexcept {
        (n.prev ? n.prev->next : head_) = n.next;
        (n.next ? n.next->prev : tail_) = n.prev;
        n.prev = n.next = nullptr;
        n.st = detail::waiter::state::idle;
    }

    bool set_ = false;
    wait_node* head_ = nullptr;
    wait_node* tail_ = nullptr;
};

}  // namespace corio
