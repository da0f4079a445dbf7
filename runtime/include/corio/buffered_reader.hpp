// SPDX-License-Identifier: MIT
// buffered_reader: lines, delimited records and exact-size reads over any corio byte stream.
#pragma once

#include <corio/error.hpp>
#include <corio/result.hpp>
#include <corio/stream.hpp>
#include <corio/task.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio {

/// Reads lines, delimited records and exact sizes from an async_read_stream through a buffer of
/// its own (as tokio's BufReader and Asio's async_read_until with a dynamic buffer).
///
/// `buffered_reader<S>` owns the stream (`buffered_reader r{std::move(s)}`);
/// `buffered_reader<S&>` only refers to it (`buffered_reader r{s}`: CTAD picks the reference for
/// an lvalue), so another task may keep sending on `s` while the reader reads it (a stream allows
/// one receive and one send at once). stream() reaches the stream either way.
///
/// No operation loses data: bytes received from the stream stay in the buffer until an operation
/// returns them, so an operation that fails (operation_canceled when `token` or the task's ambient
/// token stops, a timeout, line_too_long, a stream error) leaves every byte it received buffered
/// for the next call, unless its comment says otherwise (skip_until). Errors are the stream's
/// recv errors (operation_canceled, errc::closed, ECONNRESET, ...) plus those listed per call.
///
/// One operation at a time: starting one while another is pending throws usage_error (from its
/// co_await), as does moving the reader meanwhile. Searches remember where they stopped, so a
/// long line arriving a byte at a time is scanned once, not once per byte.
template <class S>
class buffered_reader {
public:
    using stream_type = std::remove_reference_t<S>;
    static_assert(async_read_stream<stream_type>,
                  "corio::buffered_reader<S>: S must be an async_read_stream (see corio/stream.hpp)");
    /// The longest line read_line() accepts unless told otherwise (set_max_line).
    static constexpr std::size_t default_max_line = 64 * 1024;

    /// Wraps `stream` (moved in, or referred to when S is a reference); `max_line` as set_max_line.
    template <class U>
        requires std::is_constructible_v<S, U&&>
    explicit buffered_reader(U&& stream, std::size_t max_line = default_max_line)
        : stream_(std::forward<U>(stream)), max_line_(max_line) {}
    /// Throws usage_error if `o` has an operation pending.
    buffered_reader(buffered_reader&& o)
        : stream_(std::forward<S>(o.check_idle().stream_)), buf_(std::move(o.buf_)),
          begin_(std::exchange(o.begin_, 0)), end_(std::exchange(o.end_, 0)),
          max_line_(o.max_line_) {}
    buffered_reader(const buffered_reader&) = delete;
    buffered_reader& operator=(const buffered_reader&) = delete;

    /// The stream: send on it, close it, ask for its endpoints. Receiving on it directly skips
    /// what is buffered here.
    stream_type& stream() noexcept { return stream_; }
    const stream_type& stream() const noexcept { return stream_; }

    /// The longest line (without its "\n" or "\r\n") read_line() without a `max` accepts.
    std::size_t max_line() const noexcept { return max_line_; }
    void set_max_line(std::size_t max) noexcept { max_line_ = max; }

    /// The bytes received and not yet returned by an operation (valid until the next call).
    std::span<const std::byte> buffered() const noexcept {
        return std::span<const std::byte>(buf_).subspan(begin_, end_ - begin_);
    }
    /// Drops the first `n` buffered bytes (after parsing buffered() yourself). Throws usage_error
    /// if fewer are buffered.
    void consume(std::size_t n);

    /// Receives once more into the buffer (growing it when full: you bound how far by how often
    /// you call) and returns how many bytes arrived; 0 means end of stream. A cancelled fill
    /// received nothing.
    task<result<std::size_t>> fill(std::stop_token token = {});

    /// The next line, without its "\n" or its "\r\n"; the last line is returned even if the stream
    /// ends without a newline (as it is: a lone "\r" at its end stays). std::nullopt: the stream
    /// ended with nothing buffered. Errors: errc::line_too_long when the line has more than
    /// `max` bytes (max_line() without `max`): nothing is consumed, the start of the line stays
    /// buffered, and skip_until('\n') discards the rest of it. A cancelled read_line consumed
    /// nothing: the part of the line already received stays buffered.
    task<result<std::optional<std::string>>> read_line(std::stop_token token = {}) {
        return read_line(max_line_, std::move(token));
    }
    task<result<std::optional<std::string>>> read_line(std::size_t max, std::stop_token token = {}) {
        return until("\n", max, true, std::move(token));
    }

    /// The bytes up to and including the next `delim` (any bytes, non-empty); at the end of the
    /// stream, what is left without a delimiter (so the caller sees it is missing); std::nullopt
    /// when the stream ended with nothing buffered. Errors: errc::line_too_long when no delimiter
    /// ends within the first `max` bytes (delimiter included; max_line() + delim.size() without
    /// `max`), consuming nothing. A cancelled read_until consumed nothing. Throws usage_error for
    /// an empty `delim`.
    task<result<std::optional<std::string>>> read_until(std::string_view delim,
                                                        std::stop_token token = {}) {
        return read_until(delim, saturating_add(max_line_, delim.size()), std::move(token));
    }
    task<result<std::optional<std::string>>> read_until(std::string_view delim, std::size_t max,
                                                        std::stop_token token = {}) {
        check_delimiter(delim);
        return until(std::string(delim), max, false, std::move(token));
    }
    task<result<std::optional<std::string>>> read_until(char delim, std::stop_token token = {}) {
        return read_until(std::string_view(&delim, 1), std::move(token));
    }
    task<result<std::optional<std::string>>> read_until(char delim, std::size_t max,
                                                        std::stop_token token = {}) {
        return read_until(std::string_view(&delim, 1), max, std::move(token));
    }

    /// Discards bytes up to and including the next `delim` without buffering more than one
    /// receive at a time (after line_too_long: skip_until('\n') skips the rest of the line) and
    /// returns how many it discarded. Errors: errc::unexpected_eof if the stream ended first
    /// (everything up to the end was discarded). A cancelled skip_until has discarded what it
    /// had received (the bytes it was asked to drop); calling it again skips the rest.
    task<result<std::size_t>> skip_until(std::string_view delim, std::stop_token token = {});
    task<result<std::size_t>> skip_until(char delim, std::stop_token token = {}) {
        return skip_until(std::string_view(&delim, 1), std::move(token));
    }

    /// Fills all of `out`. Errors: errc::unexpected_eof if the stream ends first; then the bytes
    /// that did arrive are left buffered (buffered().size() says how many), as after any error
    /// or cancellation: a failed read_exact consumed nothing, and `out`'s contents are
    /// unspecified.
    task<result<void>> read_exact(std::span<std::byte> out, std::stop_token token = {});
    /// As read_exact(span), into a new vector of `n` bytes.
    task<result<std::vector<std::byte>>> read_exact(std::size_t n, std::stop_token token = {});

    /// Copies at least one byte into `out` (buffered bytes first, without receiving) and returns
    /// how many; 0 means end of stream (or an empty `out`). A cancelled read_some consumed nothing.
    task<result<std::size_t>> read_some(std::span<std::byte> out, std::stop_token token = {});

private:
    static constexpr std::size_t initial_capacity = 4096;

    // Marks the reader busy for one operation: a second one at once is a programmer error.
    class busy_guard {
    public:
        explicit busy_guard(buffered_reader& r) : r_(r) {
            if (r_.busy_) {
                throw usage_error("corio::buffered_reader: an operation is already pending");
            }
            r_.busy_ = true;
        }
        busy_guard(const busy_guard&) = delete;
        busy_guard& operator=(const busy_guard&) = delete;
        ~busy_guard() { r_.busy_ = false; }

    private:
        buffered_reader& r_;
    };

    static std::size_t saturating_add(std::size_t a, std::size_t b) noexcept {
        return a > SIZE_MAX - b ? SIZE_MAX : a + b;
    }
    static void check_delimiter(std::string_view delim) {
        if (delim.empty()) {
            throw usage_error("corio::buffered_reader: empty delimiter");
        }
    }
    buffered_reader& check_idle() {
        if (busy_) {
            throw usage_error("corio::buffered_reader: moved while an operation is pending");
        }
        return *this;
    }
    std::string_view text() const noexcept {
        return {reinterpret_cast<const char*>(buf_.data()) + begin_, end_ - begin_};
    }
    std::size_t size() const noexcept { return end_ - begin_; }
    // Where `delim` ends within the first `limit` buffered bytes (npos: not there), resuming
    // after the part earlier calls searched for the same delimiter.
    std::size_t find(std::string_view delim, std::size_t limit);
    // Moves the first `n` buffered bytes into a string and consumes them.
    std::string take(std::size_t n);
    // Copies up to out.size() buffered bytes into `out`, consumes them, returns how many.
    std::size_t take_into(std::span<std::byte> out) noexcept;
    // Makes room for at least one byte after end_ (compacting first, growing if still full).
    void reserve_tail();
    // One receive into the buffer, without the busy check (the operations' building block).
    task<result<std::size_t>> fill_once(std::stop_token token);
    // read_until, or with `line` read_line (max counts the line without "\n" or "\r\n").
    task<result<std::optional<std::string>>> until(std::string delim, std::size_t max, bool line,
                                                   std::stop_token token);
    task<result<std::size_t>> skip(std::string delim, std::stop_token token);

    S stream_;
    std::vector<std::byte> buf_;
    std::size_t begin_ = 0;  // buffered bytes are buf_[begin_, end_)
    std::size_t end_ = 0;
    std::size_t max_line_;
    std::string scanned_for_;  // the delimiter the first scanned_ buffered bytes lack
    std::size_t scanned_ = 0;
    bool busy_ = false;
};

/// An lvalue stream is referred to, an rvalue one moved in.
template <class S>
buffered_reader(S&&) -> buffered_reader<S>;
template <class S>
buffered_reader(S&&, std::size_t) -> buffered_reader<S>;

template <class S>
void buffered_reader<S>::consume(std::size_t n) {
    if (n > size()) {
        throw usage_error("corio::buffered_reader::consume: more than is buffered");
    }
    begin_ += n;
    scanned_ = scanned_ > n ? scanned_ - n : 0;
    if (begin_ == end_) {
        begin_ = end_ = 0;  // empty: the next receive starts at the front, no copying
    }
}

template <class S>
std::size_t buffered_reader<S>::find(std::string_view delim, std::size_t limit) {
    if (delim != scanned_for_) {
        scanned_for_.assign(delim);
        scanned_ = 0;
    }
    const std::string_view window = text().substr(0, limit);
    // A delimiter may straddle the end of what was searched before: back up by its size - 1.
    const std::size_t from = scanned_ >= delim.size() ? scanned_ - (delim.size() - 1) : 0;
    const std::size_t at = window.find(delim, from);
    if (at == std::string_view::npos) {
        scanned_ = window.size();
        return at;
    }
    return at + delim.size();
}

template <class S>
std::string buffered_reader<S>::take(std::size_t n) {
    std::string out(text().substr(0, n));
    consume(n);
    return out;
}

template <class S>
std::size_t buffered_reader<S>::take_into(std::span<std::byte> out) noexcept {
    const std::size_t n = std::min(out.size(), size());
    if (n > 0) {
        std::memcpy(out.data(), buf_.data() + begin_, n);
        consume(n);
    }
    return n;
}

template <class S>
void buffered_reader<S>::reserve_tail() {
    if (end_ < buf_.size()) {
        return;
    }
    if (begin_ > 0) {
        std::memmove(buf_.data(), buf_.data() + begin_, size());
        end_ -= begin_;
        begin_ = 0;
        if (end_ < buf_.size()) {
            return;
        }
    }
    buf_.resize(std::max(initial_capacity, buf_.size() * 2));
}

template <class S>
task<result<std::size_t>> buffered_reader<S>::fill_once(std::stop_token token) {
    reserve_tail();
    auto n = co_await stream_.recv(std::span<std::byte>(buf_).subspan(end_), std::move(token));
    if (n) {
        end_ += *n;
    }
    co_return n;
}

template <class S>
task<result<std::size_t>> buffered_reader<S>::fill(std::stop_token token) {
    busy_guard busy(*this);
    co_return co_await fill_once(std::move(token));
}

template <class S>
task<result<std::optional<std::string>>> buffered_reader<S>::until(std::string delim,
                                                                   std::size_t max, bool line,
                                                                   std::stop_token token) {
    busy_guard busy(*this);
    // A line of `max` bytes may be followed by "\r\n": search two bytes further, then check.
    const std::size_t limit = line ? saturating_add(max, 2) : max;
    for (;;) {
        std::size_t end = find(delim, limit);
        bool eof = false;
        if (end == std::string_view::npos) {
            if (size() >= limit) {
                co_return errc::line_too_long;
            }
            auto n = co_await fill_once(token);
            if (!n) {
                co_return n.error();
            }
            if (*n > 0) {
                continue;
            }
            if (size() == 0) {
                co_return std::optional<std::string>();
            }
            end = size();  // the last line, without a delimiter
            eof = true;
        }
        if (!line) {
            co_return take(end);
        }
        std::size_t length = end;
        if (!eof) {
            length -= (length >= 2 && text()[length - 2] == '\r') ? 2 : 1;
        }
        if (length > max) {
            co_return errc::line_too_long;
        }
        std::string s = take(end);
        s.resize(length);
        co_return std::move(s);
    }
}

template <class S>
task<result<std::size_t>> buffered_reader<S>::skip_until(std::string_view delim,
                                                         std::stop_token token) {
    check_delimiter(delim);
    return skip(std::string(delim), std::move(token));
}

template <class S>
task<result<std::size_t>> buffered_reader<S>::skip(std::string delim, std::stop_token token) {
    busy_guard busy(*this);
    std::size_t skipped = 0;
    for (;;) {
        if (const std::size_t end = find(delim, SIZE_MAX); end != std::string_view::npos) {
            consume(end);
            co_return skipped + end;
        }
        // Keep only what may be the start of a delimiter split across receives.
        const std::size_t drop = size() - std::min(size(), delim.size() - 1);
        consume(drop);
        skipped += drop;
        auto n = co_await fill_once(token);
        if (!n) {
            co_return n.error();
        }
        if (*n == 0) {
            skipped += size();
            consume(size());
            co_return errc::unexpected_eof;
        }
    }
}

template <class S>
task<result<void>> buffered_reader<S>::read_exact(std::span<std::byte> out, std::stop_token token) {
    busy_guard busy(*this);
    if (out.size() <= std::max(buf_.size(), initial_capacity)) {
        // Small: receive into the buffer (one call may bring the next message too), then copy.
        while (size() < out.size()) {
            auto n = co_await fill_once(token);
            if (!n) {
                co_return n.error();
            }
            if (*n == 0) {
                co_return errc::unexpected_eof;
            }
        }
        (void)take_into(out);
        co_return result<void>();
    }
    // Large: straight into `out`; on failure what arrived goes back into the (empty) buffer.
    std::size_t got = take_into(out);
    while (got < out.size()) {
        auto n = co_await stream_.recv(out.subspan(got), token);
        if (!n || *n == 0) {
            buf_.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(got));
            begin_ = 0;
            end_ = got;
            scanned_ = 0;
            if (!n) {
                co_return n.error();
            }
            co_return errc::unexpected_eof;
        }
        got += *n;
    }
    co_return result<void>();
}

template <class S>
task<result<std::vector<std::byte>>> buffered_reader<S>::read_exact(std::size_t n,
                                                                    std::stop_token token) {
    std::vector<std::byte> out(n);
    auto r = co_await read_exact(std::span<std::byte>(out), std::move(token));
    if (!r) {
        co_return r.error();
    }
    co_return std::move(out);
}

template <class S>
task<result<std::size_t>> buffered_reader<S>::read_some(std::span<std::byte> out,
                                                        std::stop_token token) {
    busy_guard busy(*this);
    if (size() == 0 && !out.empty()) {
        if (out.size() >= std::max(buf_.size(), initial_capacity)) {
            co_return co_await stream_.recv(out, std::move(token));  // large: skip the copy
        }
        auto n = co_await fill_once(std::move(token));
        if (!n) {
            co_return n.error();
        }
    }
    co_return take_into(out);
}

}  // namespace corio
