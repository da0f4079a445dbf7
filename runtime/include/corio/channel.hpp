// SPDX-License-Identifier: MIT
// channel<T>: a bounded multi-producer multi-consumer queue that tasks on any loop share.
#pragma once

#include <corio/detail/sync_ring.hpp>
#include <corio/detail/sync_wait.hpp>
#include <corio/detail/sync_waiter.hpp>
#include <corio/error.hpp>
#include <corio/result.hpp>

#include <cstddef>
#include <mutex>
#include <optional>
#include <stop_token>
#include <system_error>
#include <type_traits>
#include <utility>

namespace corio {

/// A bounded FIFO queue from any number of senders to any number of receivers, on any loops
/// (threads). Capacity 0 is a rendezvous: a send completes only when a receiver takes the item.
///
/// Guarantees: every item sent is received exactly once, in the order the sends completed, or
/// is still in the channel. Cancel safety: a send that ends with an error (operation_canceled,
/// closed) did not enqueue its item and did not move from it; a recv that ends with an error
/// consumed nothing. A grant that races a cancellation wins if it came first: the send then
/// succeeded, or the recv returns its item. A task destroyed (runtime teardown) after an item
/// was handed to its recv but before it resumed gives the item back to the front of the
/// channel. Senders and receivers waiting are served first come, first served.
template <class T>
class channel {
    static_assert(std::is_nothrow_move_constructible_v<T>,
                  "corio::channel: items are moved under the channel's lock; T's move must not throw");
    using recv_node = detail::item_waiter<T>;
    struct send_node final : detail::sync_waiter {
        T* src = nullptr;  // moved from only when the item is enqueued or handed over
    };

public:
    /// Throws std::bad_alloc if the buffer cannot be allocated.
    explicit channel(std::size_t capacity) : capacity_(capacity), items_(capacity) {}
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;
    /// Waiters left (only possible in a single loop's teardown) resume with errc::closed.
    ~channel() {
        std::lock_guard lock(lock_);
        senders_.close_all();
        receivers_.close_all();
    }

    /// Closes the channel: waiting and later sends fail with errc::closed (their items stay
    /// with their callers); receivers drain what is queued, then get errc::closed. Idempotent;
    /// any thread.
    void close() noexcept {
        std::lock_guard lock(lock_);
        closed_ = true;
        senders_.wake_all(detail::sync_state::closed);
        receivers_.wake_all(detail::sync_state::closed);
    }
    bool is_closed() const noexcept {
        std::lock_guard lock(lock_);
        return closed_;
    }
    std::size_t capacity() const noexcept { return capacity_; }
    /// Items queued now (a snapshot when other threads use the channel).
    std::size_t size() const noexcept {
        std::lock_guard lock(lock_);
        return items_.size();
    }

    /// Enqueues `v` (or hands it to a waiting receiver) without waiting; moves from `v` only on
    /// success. Errors: resource_unavailable_try_again when full (capacity 0: no receiver is
    /// waiting); errc::closed after close(). Any thread, runtime or not.
    result<void> try_send(T&& v) {
        std::lock_guard lock(lock_);
        if (closed_) {
            return errc::closed;
        }
        if (!offer_locked(v)) {
            return std::errc::resource_unavailable_try_again;
        }
        return {};
    }
    /// As try_send(T&&), with a copy of `v`.
    result<void> try_send(const T& v) { return try_send(T(v)); }

    /// Takes the next item without waiting. Errors: resource_unavailable_try_again when none is
    /// ready; errc::closed once closed and drained. Any thread, runtime or not.
    result<T> try_recv() {
        std::lock_guard lock(lock_);
        std::optional<T> item;
        if (take_locked(item)) {
            return std::move(*item);
        }
        if (closed_) {
            return errc::closed;
        }
        return std::errc::resource_unavailable_try_again;
    }

    /// The awaitable of send(): success once the item is enqueued or handed to a receiver.
    class [[nodiscard]] send_awaitable : public detail::sync_wait<send_awaitable, send_node> {
        using base = detail::sync_wait<send_awaitable, send_node>;

    public:
        send_awaitable(channel& ch, T* src, std::stop_token token) noexcept
            : base(std::move(token)), ch_(ch) {
            this->node_.src = src;
        }
        send_awaitable(channel& ch, const T& v, std::stop_token token)
            : base(std::move(token)), ch_(ch), copy_(v) {
            this->node_.src = &*copy_;
        }
        result<void> await_resume() noexcept { return detail::sync_error(this->node_.finish()); }

    private:
        friend base;
        static constexpr const char* name = "corio::channel::send";
        detail::sync_lock& lock() noexcept { return ch_.lock_; }
        detail::sync_list& list() noexcept { return ch_.senders_; }
        detail::sync_state try_locked() noexcept {
            if (ch_.closed_) {
                return detail::sync_state::closed;
            }
            return ch_.offer_locked(*this->node_.src) ? detail::sync_state::granted
                                                      : detail::sync_state::idle;
        }
        channel& ch_;
        std::optional<T> copy_;  // what a send of an lvalue enqueues
    };

    /// Sends `v`: enqueues it, or hands it to a waiting receiver, waiting while the channel is
    /// full. Moves from `v` only on success; `v` must live until the co_await completes (a
    /// temporary in the co_await expression does). Errors: operation_canceled when `token` or
    /// the task's ambient token stops first; errc::closed if the channel is or gets closed (or
    /// destroyed). Throws usage_error outside a runtime when it must wait. Any number of tasks
    /// on any loops may send at once.
    send_awaitable send(T&& v, std::stop_token token = {}) noexcept {
        return {*this, &v, std::move(token)};
    }
    /// As send(T&&), with a copy of `v` made at the call.
    send_awaitable send(const T& v, std::stop_token token = {}) {
        return {*this, v, std::move(token)};
    }

    /// The awaitable of recv(): the next item.
    class [[nodiscard]] recv_awaitable : public detail::sync_wait<recv_awaitable, recv_node> {
        using base = detail::sync_wait<recv_awaitable, recv_node>;

    public:
        recv_awaitable(channel& ch, std::stop_token token) noexcept
            : base(std::move(token)), ch_(ch) {
            // An item handed to a frame destroyed before it resumed goes back to the channel.
            this->node_.primitive = &ch;
            this->node_.abandon = [](void* p, detail::sync_waiter& w) noexcept {
                auto& n = static_cast<recv_node&>(w);
                if (n.item) {
                    static_cast<channel*>(p)->give_back_locked(std::move(*n.item));
                    n.item.reset();
                }
            };
        }
        result<T> await_resume() noexcept { return this->node_.take(); }

    private:
        friend base;
        static constexpr const char* name = "corio::channel::recv";
        detail::sync_lock& lock() noexcept { return ch_.lock_; }
        detail::sync_list& list() noexcept { return ch_.receivers_; }
        detail::sync_state try_locked() noexcept {
            if (ch_.take_locked(this->node_.item)) {
                return detail::sync_state::granted;
            }
            return ch_.closed_ ? detail::sync_state::closed : detail::sync_state::idle;
        }
        channel& ch_;
    };

    /// Receives the next item, waiting while the channel is empty. Errors: operation_canceled
    /// when `token` or the task's ambient token stops first (nothing was consumed);
    /// errc::closed once the channel is closed and every queued item was received (or it is
    /// destroyed). Throws usage_error outside a runtime when it must wait. Any number of tasks
    /// on any loops may receive at once.
    recv_awaitable recv(std::stop_token token = {}) noexcept { return {*this, std::move(token)}; }

private:
    // Lock held. Hands `v` to the first waiting receiver or queues it; false when full.
    bool offer_locked(T& v) noexcept {
        if (detail::sync_waiter* r = receivers_.pop_front()) {
            static_cast<recv_node*>(r)->grant_locked(std::move(v));
            return true;
        }
        if (items_.size() < capacity_) {
            items_.push_back(std::move(v));
            return true;
        }
        return false;
    }
    // Lock held. The next item: the oldest queued (its slot goes to the first waiting sender),
    // else a waiting sender's (rendezvous). False when there is none.
    bool take_locked(std::optional<T>& out) noexcept {
        if (!items_.empty()) {
            out.emplace(items_.pop_front());
            if (items_.size() < capacity_) {
                if (detail::sync_waiter* s = senders_.pop_front()) {
                    items_.push_back(std::move(*static_cast<send_node*>(s)->src));
                    s->wake_locked(detail::sync_state::granted);
                }
            }
            return true;
        }
        if (detail::sync_waiter* s = senders_.pop_front()) {
            out.emplace(std::move(*static_cast<send_node*>(s)->src));
            s->wake_locked(detail::sync_state::granted);
            return true;
        }
        return false;
    }
    // Lock held. An item whose receiver went away: to the next receiver, else to the front.
    void give_back_locked(T&& v) noexcept {
        if (detail::sync_waiter* r = receivers_.pop_front()) {
            static_cast<recv_node*>(r)->grant_locked(std::move(v));
        } else {
            items_.push_front(std::move(v));  // may exceed the capacity by this item
        }
    }

    mutable detail::sync_lock lock_;
    const std::size_t capacity_;
    detail::sync_ring<T> items_;    // under lock_; never more than capacity_ but for given-back items
    detail::sync_list senders_;     // under lock_; waiting only while items_ is full
    detail::sync_list receivers_;   // under lock_; waiting only while items_ is empty
    bool closed_ = false;           // under lock_
};

}  // namespace corio
