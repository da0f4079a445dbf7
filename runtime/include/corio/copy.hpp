// SPDX-License-Identifier: MIT
// copy and copy_bidirectional: pump bytes between corio streams until end of stream, passing the
// half-close on, with the runtime's pooled buffers.
#pragma once

#include <corio/buffer_pool.hpp>
#include <corio/cancel.hpp>
#include <corio/clock.hpp>
#include <corio/result.hpp>
#include <corio/stream.hpp>
#include <corio/task.hpp>
#include <corio/when_all.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <stop_token>
#include <system_error>

namespace corio {

/// Bytes a copy wrote, per direction. For copy(from, to), only a_to_b counts (from → to).
struct copy_totals {
    std::uint64_t a_to_b = 0;
    std::uint64_t b_to_a = 0;
};

/// How copy and copy_bidirectional run.
struct copy_options {
    /// End the copy with std::errc::timed_out once no byte was received or sent in either
    /// direction for this long; zero or negative: never. Measured on the runtime's clock (its
    /// manual_clock if it has one).
    clock_type::duration idle_timeout = clock_type::duration::zero();
    /// When set: zeroed at the start, then kept current as bytes are written, so it says what
    /// moved also when the copy ends with an error. Must outlive the copy.
    copy_totals* progress = nullptr;
};

namespace detail {

/// What the directions of one copy share: the source that stops them all, the error that ended
/// the copy, the counts, and the last time a byte moved (for the idle timeout).
struct copy_state {
    std::stop_source stop;  // requested on the first error, on cancellation, when all ended
    std::error_code error;  // the first error; the cancellations it caused are not recorded
    copy_totals own;
    copy_totals& totals;    // options.progress, else own; zeroed at the start
    clock_type::time_point last_activity{};
    bool tracks_activity = false;
    int running = 0;  // directions not yet at their end of stream

    copy_state(const copy_options& options, int directions);
    copy_state(const copy_state&) = delete;
    copy_state& operator=(const copy_state&) = delete;
    /// Records `e` unless an earlier error ended the copy, and stops every direction.
    void fail(std::error_code e) noexcept;
    /// A direction passed its end of stream on; the last one stops the idle watch.
    void finished() noexcept;
    void touch() noexcept {
        if (tracks_activity) {
            touch_now();
        }
    }
    void touch_now() noexcept;
};

/// Ends the copy with timed_out once nothing moved for `idle`; returns when the copy stops.
task<> watch_idle(copy_state& st, clock_type::duration idle);

/// One direction: recv into one pooled buffer, send all of it, until end of stream; then
/// shuts down `to`'s sending side. The buffer is the runtime pool's (pooled_buffer::capacity(),
/// 16 KiB), held until this direction ends. On the readiness backends a recv that filled the
/// buffer leaves its stream marked ready, so the next one is tried at once, not after a wait.
template <class R, class W>
task<> copy_direction(R& from, W& to, copy_state& st, std::uint64_t& moved) {
    const std::stop_token stop = st.stop.get_token();
    const pooled_buffer buffer(detail::pool_take(), pooled_buffer::capacity());
    for (;;) {
        if (stop.stop_requested()) {  // a recv or send that needs no wait never looks
            st.fail(std::make_error_code(std::errc::operation_canceled));
            co_return;
        }
        auto n = co_await from.recv(buffer.bytes(), stop);
        if (!n) {
            st.fail(n.error());
            co_return;
        }
        if (*n == 0) {
            break;
        }
        st.touch();
        const std::span<const std::byte> data = buffer.bytes().first(*n);
        for (std::size_t done = 0; done < data.size();) {
            auto sent = co_await to.send(data.subspan(done), stop);
            if (!sent) {
                st.fail(sent.error());
                co_return;
            }
            done += *sent;
            moved += *sent;
        }
        st.touch();
    }
    if (auto shut = to.shutdown(shutdown_how::send); !shut) {
        st.fail(shut.error());
        co_return;
    }
    st.finished();
}

/// Runs `directions` (and the idle watch when asked) under `st`, stopped by `token` and by the
/// caller's ambient token as well.
template <class... Ts>
task<> run_copy(copy_state& st, const copy_options& options, std::stop_token token,
                task<Ts>... directions) {
    const std::stop_token ambient = co_await this_task::stop_token();
    const std::stop_callback<request_stop_on> by_token(token, request_stop_on{&st.stop});
    const std::stop_callback<request_stop_on> by_ambient(ambient, request_stop_on{&st.stop});
    if (st.tracks_activity) {
        (void)co_await when_all(std::move(directions)..., watch_idle(st, options.idle_timeout));
    } else {
        (void)co_await when_all(std::move(directions)...);
    }
}

}  // namespace detail

/// Copies `from` to `to` until `from` reaches end of stream, then shuts down `to`'s sending
/// side (`to.shutdown(shutdown_how::send)`) so its reader sees the end too; returns the bytes
/// written to `to`. Holds one 16 KiB buffer from the runtime's pool (pooled_buffer) while it
/// runs; no allocation per chunk. Neither stream is closed.
/// Errors: the first error of from.recv or to.send, as those streams document them (e.g.
/// ECONNRESET, EPIPE, errc::closed), or of the shutdown (ENOTCONN); std::errc::timed_out after
/// options.idle_timeout without a byte moving; operation_canceled when `token` or the caller's
/// ambient token stops (with_timeout around it turns that into timed_out). On any error,
/// options.progress (if set) holds the bytes written. A cancelled or failed copy has consumed
/// from `from` everything it wrote to `to`, plus the bytes of its last recv not yet written
/// (at most 16 KiB), which are lost: neither sent nor reported. Nothing is received once the
/// stop is seen.
template <async_read_stream R, async_write_stream W>
task<result<std::uint64_t>> copy(R& from, W& to, copy_options options,
                                 std::stop_token token = {}) {
    detail::copy_state st(options, 1);
    co_await detail::run_copy(st, options, std::move(token),
                              detail::copy_direction(from, to, st, st.totals.a_to_b));
    if (st.error) {
        co_return st.error;
    }
    co_return st.totals.a_to_b;
}

/// copy(from, to, options, token) with default options: no idle timeout.
template <async_read_stream R, async_write_stream W>
task<result<std::uint64_t>> copy(R& from, W& to, std::stop_token token = {}) {
    return copy(from, to, copy_options{}, std::move(token));
}

/// Copies `a` to `b` and `b` to `a` at once, until both reached end of stream. Each direction
/// that reaches its end passes it on as a half-close (shutdown(shutdown_how::send) of the
/// other stream) while the other direction keeps flowing. Returns the bytes written each way.
/// Holds two 16 KiB buffers from the runtime's pool (one per direction) while it runs; no
/// allocation per chunk. Neither stream is closed: the caller owns them.
/// Errors: the first error of either direction (a recv, a send or a shutdown, e.g.
/// ECONNRESET, EPIPE, ENOTCONN, errc::closed); std::errc::timed_out after options.idle_timeout
/// without a byte moving either way; operation_canceled when `token` or the caller's ambient
/// token stops. The first error ends both directions: the other one is cancelled (its pending
/// recv or send resumes with operation_canceled) and awaited, so when this returns nothing
/// runs on either stream and both can be used, or closed, at once. As for copy: each direction
/// loses the bytes it had received but not yet written (at most 16 KiB each, not reported);
/// options.progress (if set) says what was written each way.
template <async_stream A, async_stream B>
task<result<copy_totals>> copy_bidirectional(A& a, B& b, copy_options options,
                                             std::stop_token token = {}) {
    detail::copy_state st(options, 2);
    co_await detail::run_copy(st, options, std::move(token),
                              detail::copy_direction(a, b, st, st.totals.a_to_b),
                              detail::copy_direction(b, a, st, st.totals.b_to_a));
    if (st.error) {
        co_return st.error;
    }
    co_return st.totals;
}

/// copy_bidirectional(a, b, options, token) with default options: no idle timeout.
template <async_stream A, async_stream B>
task<result<copy_totals>> copy_bidirectional(A& a, B& b, std::stop_token token = {}) {
    return copy_bidirectional(a, b, copy_options{}, std::move(token));
}

}  // namespace corio
