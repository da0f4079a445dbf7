// SPDX-License-Identifier: MIT
// HTTP dates (IMF-fixdate, RFC 9110 5.6.7): formatting, parsing, and a once-a-second cache.
#pragma once

#include <chrono>
#include <ctime>
#include <optional>
#include <string_view>

namespace corio::http::detail {

/// Writes "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters) for `t` into `out`.
std::string_view format_http_date(std::time_t t, char (&out)[32]) noexcept;
/// Parses an IMF-fixdate; nullopt for anything else (obsolete formats included).
std::optional<std::time_t> parse_http_date(std::string_view s) noexcept;

/// The current date, formatted at most once per second (the Date field of every response).
class date_cache {
public:
    /// The date at `seen` (a steady time the caller has anyway): the wall clock is read again
    /// only when `seen` moved 50 ms past the last read, so a busy server reads it 20 times a
    /// second, not once per response.
    std::string_view now(std::chrono::steady_clock::time_point seen) noexcept;
    /// The second the last now() formatted: what was built from its text is stale once it moves.
    std::time_t second() const noexcept { return second_; }

private:
    std::chrono::steady_clock::time_point checked_{};
    std::time_t second_ = -1;
    char text_[32] = {};
    std::string_view view_;
};

}  // namespace corio::http::detail
