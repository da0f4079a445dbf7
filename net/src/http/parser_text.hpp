// SPDX-License-Identifier: MIT
// The text rules request_parser applies (RFC 9110/9112 character classes, tokens, numbers, field
// lines), shared by its head and body halves (parser.cpp, parser_body.cpp). Internal.
#pragma once

#include <corio/http/parser.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string_view>

namespace corio::http::parser_text {

using event = request_parser::event;
using state = request_parser::state;

inline constexpr std::array<std::string_view, 9> method_names{
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"};

// RFC 9110 §5.6.2: token = 1*tchar.
inline constexpr auto tchar_table = [] {
    std::array<bool, 256> table{};
    for (int c = '0'; c <= '9'; ++c) {
        table[c] = true;
    }
    for (int c = 'a'; c <= 'z'; ++c) {
        table[c] = true;
    }
    for (int c = 'A'; c <= 'Z'; ++c) {
        table[c] = true;
    }
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) {
        table[static_cast<unsigned char>(c)] = true;
    }
    return table;
}();

constexpr bool is_tchar(char c) noexcept {
    return tchar_table[static_cast<unsigned char>(c)];
}
constexpr bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}
constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
// Visible ASCII: the request-target admits no whitespace, controls or obs-text.
constexpr bool is_target_char(char c) noexcept {
    return c > 0x20 && c < 0x7f;
}

// reg-name / IP-literal / IPv4 and an optional port (RFC 3986 §3.2.2); no userinfo. A table:
// every Host byte of every request passes through it.
inline constexpr auto host_char_table = [] {
    std::array<bool, 256> table{};
    for (int c = 0; c < 256; ++c) {
        table[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    for (char c : std::string_view("-._~!$&'()*+,;=:[]%")) {
        table[static_cast<unsigned char>(c)] = true;
    }
    return table;
}();

constexpr bool is_host_char(char c) noexcept {
    return host_char_table[static_cast<unsigned char>(c)];
}

// Bytes a line scan passes over without a second look: not a control character (CR, LF and
// tab included, which the scan judges one by one) and not DEL.
constexpr bool is_plain_line_byte(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f;
}

// The first index in [i, stop) that is not a plain line byte, or stop. Eight bytes at a time:
// this loop is where a parser spends most of its time on ordinary requests.
inline std::size_t skip_plain(const char* p, std::size_t i, std::size_t stop) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t highs = 0x8080808080808080ULL;
    for (; i + 8 <= stop; i += 8) {
        std::uint64_t x = 0;
        std::memcpy(&x, p + i, sizeof x);
        const std::uint64_t below_space = (x - ones * 0x20) & ~x & highs;  // some byte < 0x20
        const std::uint64_t y = x ^ (ones * 0x7f);
        const std::uint64_t del = (y - ones) & ~y & highs;  // some byte == 0x7f
        if ((below_space | del) != 0) {
            break;
        }
    }
    while (i < stop && is_plain_line_byte(p[i])) {
        ++i;
    }
    return i;
}

constexpr char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

// The value of the first field called `name` (ASCII case-insensitive), if any: the lookup of
// both request_head::header and request::header.
inline std::optional<std::string_view> find_field(std::span<const header_field> fields,
                                                  std::string_view name) noexcept {
    for (const header_field& f : fields) {
        if (iequals(f.name, name)) {
            return f.value;
        }
    }
    return std::nullopt;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_ows(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// Calls f with each element of a comma-separated list, OWS trimmed and empty elements included,
// until f returns false; returns whether every call returned true.
template <class F>
bool each_element(std::string_view list, F f) noexcept {
    for (;;) {
        const auto comma = list.find(',');
        if (!f(trim_ows(list.substr(0, comma)))) {
            return false;
        }
        if (comma == std::string_view::npos) {
            return true;
        }
        list.remove_prefix(comma + 1);
    }
}

inline bool has_token(std::string_view list, std::string_view token) noexcept {
    return !each_element(list, [token](std::string_view e) { return !iequals(e, token); });
}

inline std::optional<std::uint64_t> parse_decimal(std::string_view s) noexcept {
    constexpr auto max = std::numeric_limits<std::uint64_t>::max();
    if (s.empty()) {
        return std::nullopt;
    }
    std::uint64_t v = 0;
    for (char c : s) {
        if (!is_digit(c)) {
            return std::nullopt;
        }
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (v > (max - digit) / 10) {
            return std::nullopt;
        }
        v = v * 10 + digit;
    }
    return v;
}

inline int hex_value(char c) noexcept {
    if (is_digit(c)) {
        return c - '0';
    }
    const char l = lower(c);
    return l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

// chunk-size [ chunk-ext ]: hex digits, then nothing or BWS ";" and extensions, which are skipped
// (the line scan already refused control characters in them).
inline std::optional<std::uint64_t> parse_chunk_size(std::string_view line) noexcept {
    std::uint64_t size = 0;
    std::size_t i = 0;
    for (; i < line.size() && hex_value(line[i]) >= 0; ++i) {
        if (size > std::numeric_limits<std::uint64_t>::max() >> 4) {
            return std::nullopt;
        }
        size = size << 4 | static_cast<std::uint64_t>(hex_value(line[i]));
    }
    if (i == 0) {
        return std::nullopt;
    }
    const auto rest = line.substr(i);
    const auto ext = rest.find_first_not_of(" \t");
    if (rest.empty() || (ext != std::string_view::npos && rest[ext] == ';')) {
        return size;
    }
    return std::nullopt;
}

// "HTTP/" DIGIT "." DIGIT → its minor version for 1.0 and 1.1, -1 when malformed, -2 otherwise.
inline int parse_version(std::string_view v) noexcept {
    if (v.size() != 8 || !v.starts_with("HTTP/") || !is_digit(v[5]) || v[6] != '.' ||
        !is_digit(v[7])) {
        return -1;
    }
    return v[5] == '1' && (v[7] == '0' || v[7] == '1') ? v[7] - '0' : -2;
}

inline std::size_t saturating_add(std::size_t a, std::size_t b) noexcept {
    return b > std::numeric_limits<std::size_t>::max() - a ? std::numeric_limits<std::size_t>::max()
                                                           : a + b;
}

// A field line's name and value, or why it is not one (RFC 9112 §5).
struct field_line {
    std::string_view name;
    std::string_view value;
    std::string_view why;
};

// The first ' ' at or after `from`, or npos. A loop, not find(): request lines' parts are a few
// bytes long, shorter than a memchr call costs.
inline std::size_t find_space(std::string_view s, std::size_t from) noexcept {
    for (std::size_t i = from; i < s.size(); ++i) {
        if (s[i] == ' ') {
            return i;
        }
    }
    return std::string_view::npos;
}

// The method named `name` (case-sensitive, RFC 9110 §9.1), compared against constants of known
// length so that no comparison is a library call.
inline std::optional<method> method_of(std::string_view name) noexcept {
    switch (name.size()) {
        case 3:
            if (name == "GET") return method::get;
            if (name == "PUT") return method::put;
            break;
        case 4:
            if (name == "HEAD") return method::head;
            if (name == "POST") return method::post;
            break;
        case 5:
            if (name == "PATCH") return method::patch;
            if (name == "TRACE") return method::trace;
            break;
        case 6:
            if (name == "DELETE") return method::delete_;
            break;
        case 7:
            if (name == "OPTIONS") return method::options;
            if (name == "CONNECT") return method::connect;
            break;
        default:
            break;
    }
    return std::nullopt;
}

inline field_line bad_field(std::string_view why) noexcept {
    field_line f;
    f.why = why;
    return f;
}

inline field_line split_field(std::string_view line) noexcept {
    if (is_ows(line.front())) {
        return bad_field("obs-fold or whitespace before a field");
    }
    std::size_t colon = 0;
    while (colon < line.size() && is_tchar(line[colon])) {
        ++colon;
    }
    if (colon == line.size()) {
        return bad_field("field line without a colon");
    }
    if (line[colon] != ':') {
        const auto after = line.find_first_not_of(" \t", colon);
        if (is_ows(line[colon]) && after != std::string_view::npos && line[after] == ':') {
            return bad_field("whitespace between field name and colon");
        }
        return bad_field("invalid character in field name");
    }
    if (colon == 0) {
        return bad_field("empty field name");
    }
    field_line f;
    f.name = line.substr(0, colon);
    f.value = trim_ows(line.substr(colon + 1));
    return f;
}

inline std::string_view view(std::span<const char> in, std::size_t begin,
                             std::size_t end) noexcept {
    return {in.data() + begin, end - begin};
}

inline event make_event(state kind, std::size_t consumed = 0) noexcept {
    event e;
    e.kind = kind;
    e.consumed = consumed;
    return e;
}

}  // namespace corio::http::parser_text
