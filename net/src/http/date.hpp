// SPDX-License-Identifier: MIT
// HTTP dates (IMF-fixdate, RFC 9110 5.6.7): formatting, parsing, and a once-a-second cache.
#pragma once

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
    std::string_view now() noexcept;

private:
    std::time_t second_ = -1;
    char text_[32] = {};
    std::string_view view_;
};

}  // namespace corio::http::detail
