// SPDX-License-Identifier: MIT
// oneshot<T>: one value from one sender to one receiver, across loops (tokio::sync::oneshot).
#pragma once

#include <corio/detail/sync_wait.hpp>
#include <corio/detail/sync_waiter.hpp>
#include <corio/error.hpp>
#include <corio/result.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <stop_token>
#include <system_error>
#include <type_traits>
#include <utility>

namespace corio {

/// A single-use channel: make() returns a sender and a receiver that share one slot (one
/// allocation). The sender sends at most one value and never waits; the receiver waits for it.
/// Either end may live on any loop or thread; each end is used by one task at a time.
template <class T>
class oneshot {
    static_assert(std::is_nothrow_move_constructible_v<T>,
                  "corio::oneshot: the value is moved under a lock; T's move must not throw");
    using recv_node = detail::item_waiter<T>;
    struct shared {
        detail::sync_lock lock;
        std::optional<T> value;     // sent and not yet received
        detail::sync_list waiting;  // receivers parked in recv()
        bool sender_done = false;   // sent, or the sender is gone
        bool receiver_gone = false;
        std::atomic<int> ends{2};  // the last end to go frees this
    };
    static void release(shared* s) noexcept {
        if (s && s->ends.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            delete s;
        }
    }

public:
    class sender;
    class receiver;

    /// A connected sender/receiver pair. Throws std::bad_alloc.
    static std::pair<sender, receiver> make() {
        auto* s = new shared;
        return {sender(s), receiver(s)};
    }

    /// The sending end. Move-only. Destroying it without sending resumes the receiver with
    /// errc::closed.
    class sender {
    public:
        sender(sender&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
        sender& operator=(sender&& o) noexcept {
            if (this != &o) {
                drop();
                s_ = std::exchange(o.s_, nullptr);
            }
            return *this;
        }
        sender(const sender&) = delete;
        sender& operator=(const sender&) = delete;
        ~sender() { drop(); }

        /// Delivers `v` (resuming the receiver on its loop) and never waits; moves from `v`
        /// only on success. Errors: errc::closed when the receiver is gone (`v` is untouched).
        /// Throws usage_error on a second send or on a moved-from sender. Any thread.
        result<void> send(T&& v) {
            shared& s = state();
            std::lock_guard lock(s.lock);
            if (s.sender_done) {
                throw usage_error("corio::oneshot::sender::send: already sent");
            }
            if (s.receiver_gone) {
                return errc::closed;
            }
            s.sender_done = true;
            if (detail::sync_waiter* r = s.waiting.pop_front()) {
                static_cast<recv_node*>(r)->grant_locked(std::move(v));
            } else {
                s.value.emplace(std::move(v));
            }
            s.waiting.wake_all(detail::sync_state::closed);  // a second concurrent recv
            return {};
        }
        /// As send(T&&), with a copy of `v`.
        result<void> send(const T& v) { return send(T(v)); }
        /// True once the receiver is gone: a send would fail.
        bool is_closed() const {
            shared& s = state();
            std::lock_guard lock(s.lock);
            return s.receiver_gone;
        }

    private:
        friend class oneshot;
        explicit sender(shared* s) noexcept : s_(s) {}
        shared& state() const {
            if (!s_) {
                throw usage_error("corio::oneshot::sender: moved-from");
            }
            return *s_;
        }
        void drop() noexcept {
            if (!s_) {
                return;
            }
            {
                std::lock_guard lock(s_->lock);
                s_->sender_done = true;
                s_->waiting.wake_all(detail::sync_state::closed);
            }
            release(std::exchange(s_, nullptr));
        }
        shared* s_;
    };

    /// The receiving end. Move-only. Destroying it makes a later send fail with errc::closed.
    class receiver {
    public:
        receiver(receiver&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
        receiver& operator=(receiver&& o) noexcept {
            if (this != &o) {
                drop();
                s_ = std::exchange(o.s_, nullptr);
            }
            return *this;
        }
        receiver(const receiver&) = delete;
        receiver& operator=(const receiver&) = delete;
        ~receiver() { drop(); }

        /// The value if it was sent, without waiting. Errors: resource_unavailable_try_again
        /// while the sender may still send; errc::closed when it is gone without sending or the
        /// value was already received. Throws usage_error on a moved-from receiver.
        result<T> try_recv() {
            shared& s = state();
            std::lock_guard lock(s.lock);
            if (s.value) {
                return take(s);
            }
            if (s.sender_done) {
                return errc::closed;
            }
            return std::errc::resource_unavailable_try_again;
        }

        /// The awaitable of recv().
        class [[nodiscard]] recv_awaitable : public detail::sync_wait<recv_awaitable, recv_node> {
            using base = detail::sync_wait<recv_awaitable, recv_node>;

        public:
            recv_awaitable(shared& s, std::stop_token token) noexcept
                : base(std::move(token)), s_(s) {
                // A value handed to a frame destroyed before it resumed stays for a later recv.
                this->node_.primitive = &s;
                this->node_.abandon = [](void* p, detail::sync_waiter& w) noexcept {
                    auto& n = static_cast<recv_node&>(w);
                    static_cast<shared*>(p)->value = std::move(n.item);
                    n.item.reset();
                };
            }
            result<T> await_resume() noexcept { return this->node_.take(); }

        private:
            friend base;
            static constexpr const char* name = "corio::oneshot::receiver::recv";
            detail::sync_lock& lock() noexcept { return s_.lock; }
            detail::sync_list& list() noexcept { return s_.waiting; }
            detail::sync_state try_locked() noexcept {
                if (s_.value) {
                    this->node_.item.emplace(take(s_));
                    return detail::sync_state::granted;
                }
                return s_.sender_done ? detail::sync_state::closed : detail::sync_state::idle;
            }
            shared& s_;
        };

        /// Waits for the value. Errors: operation_canceled when `token` or the task's ambient
        /// token stops first (the value, if it comes, stays for a later recv); errc::closed when
        /// the sender is gone without sending or the value was already received. Throws
        /// usage_error outside a runtime (when it must wait) or on a moved-from receiver.
        recv_awaitable recv(std::stop_token token = {}) { return {state(), std::move(token)}; }

    private:
        friend class oneshot;
        explicit receiver(shared* s) noexcept : s_(s) {}
        static T take(shared& s) noexcept {
            T v = std::move(*s.value);
            s.value.reset();
            return v;
        }
        shared& state() const {
            if (!s_) {
                throw usage_error("corio::oneshot::receiver: moved-from");
            }
            return *s_;
        }
        void drop() noexcept {
            if (!s_) {
                return;
            }
            {
                std::lock_guard lock(s_->lock);
                s_->receiver_gone = true;
            }
            release(std::exchange(s_, nullptr));
        }
        shared* s_;
    };
};

}  // namespace corio
