// SPDX-License-Identifier: MIT
// IMF-fixdate formatting and parsing, without locale or strptime.
#include "http/date.hpp"

#include <array>
#include <cstdio>

namespace corio::http::detail {
namespace {

constexpr std::array<std::string_view, 7> days = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool digits(std::string_view s, int& out) noexcept {
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
        out = out * 10 + (c - '0');
    }
    return !s.empty();
}

}  // namespace

std::string_view format_http_date(std::time_t t, char (&out)[32]) noexcept {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    const int n = std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                days[static_cast<std::size_t>(tm.tm_wday)].data(), tm.tm_mday,
                                months[static_cast<std::size_t>(tm.tm_mon)].data(),
                                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return {out, n > 0 ? static_cast<std::size_t>(n) : 0};
}

std::optional<std::time_t> parse_http_date(std::string_view s) noexcept {
    // "Sun, 06 Nov 1994 08:49:37 GMT": fixed positions.
    if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
        return std::nullopt;
    }
    std::tm tm{};
    int month = -1;
    for (std::size_t i = 0; i < months.size(); ++i) {
        if (s.substr(8, 3) == months[i]) {
            month = static_cast<int>(i);
        }
    }
    if (month < 0 || !digits(s.substr(5, 2), tm.tm_mday) || !digits(s.substr(12, 4), tm.tm_year) ||
        !digits(s.substr(17, 2), tm.tm_hour) || !digits(s.substr(20, 2), tm.tm_min) ||
        !digits(s.substr(23, 2), tm.tm_sec) || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
        return std::nullopt;
    }
    tm.tm_mon = month;
    tm.tm_year -= 1900;
    return ::timegm(&tm);
}

std::string_view date_cache::now(std::chrono::steady_clock::time_point seen) noexcept {
    if (second_ >= 0 && seen >= checked_ && seen - checked_ < std::chrono::milliseconds(50)) {
        return view_;
    }
    checked_ = seen;
    // The coarse clock: a second's resolution is all a Date field has, and it is cheaper.
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec != second_) {
        second_ = ts.tv_sec;
        view_ = format_http_date(ts.tv_sec, text_);
    }
    return view_;
}

}  // namespace corio::http::detail
