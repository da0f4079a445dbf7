// SPDX-License-Identifier: MIT
// sync_wait: the awaitable shape every waiting operation of a synchronisation primitive shares.
#pragma once

#include <corio/detail/sync_waiter.hpp>
#include <corio/error.hpp>
#include <corio/result.hpp>

#include <coroutine>
#include <mutex>
#include <optional>
#include <stop_token>
#include <system_error>
#include <utility>

namespace corio::detail {

/// What a wait that ended in `s` reports: operation_canceled, errc::closed, or success.
inline std::error_code sync_error(sync_state s) noexcept {
    switch (s) {
    case sync_state::cancelled:
        return std::make_error_code(std::errc::operation_canceled);
    case sync_state::closed:
        return make_error_code(errc::closed);
    default:
        return {};
    }
}

/// A waiter that receives an item: it sits here from the grant until the owner resumes.
template <class T>
struct item_waiter final : sync_waiter {
    std::optional<T> item;

    /// Lock held, already unlinked: hands `v` over and resumes the owner.
    void grant_locked(T&& v) noexcept {
        item.emplace(std::move(v));
        wake_locked(sync_state::granted);
    }
    /// Owner thread, on resume: the item, or why there is none.
    result<T> take() noexcept {
        const sync_state s = finish();
        if (s == sync_state::granted) {
            return result<T>(std::move(*item));
        }
        return sync_error(s);
    }
};

/// Try under the primitive's lock; if that cannot complete, park a node on the wait list and
/// let a grant, a stop token or close() resume it. Derived provides, lock held:
/// `sync_state try_locked()` (idle: must wait; granted / closed: done, without parking),
/// `sync_lock& lock()`, `sync_list& list()`, and `static constexpr const char* name`.
/// A completion that needs no waiting wins over an already stopped token.
template <class Derived, class Node = sync_waiter>
class sync_wait {
public:
    explicit sync_wait(std::stop_token token) noexcept : token_(std::move(token)) {}
    sync_wait(const sync_wait&) = delete;
    sync_wait& operator=(const sync_wait&) = delete;

    bool await_ready() {
        std::lock_guard guard(self().lock());
        return done_without_waiting();
    }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) {
        node_.bind(h, Derived::name);
        {
            std::lock_guard guard(self().lock());
            if (done_without_waiting()) {
                return false;
            }
            if (node_.stop_requested(token_)) {
                node_.set_unparked(sync_state::cancelled);
                return false;
            }
            node_.enqueue(self().list(), self().lock());
        }
        node_.watch(token_);
        return true;
    }

protected:
    Node node_;

private:
    Derived& self() noexcept { return static_cast<Derived&>(*this); }
    bool done_without_waiting() {
        const sync_state s = self().try_locked();
        if (s == sync_state::idle) {
            return false;
        }
        node_.set_unparked(s);
        return true;
    }
    std::stop_token token_;
};

}  // namespace corio::detail
