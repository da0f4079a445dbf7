// SPDX-License-Identifier: MIT
// request_parser, its body half: Content-Length bodies, chunked framing and trailer fields
// (RFC 9112 §6-§7). The head, line scanning and errors are in parser.cpp.
#include <corio/http/parser.hpp>

#include "http/parser_text.hpp"

#include <algorithm>

namespace corio::http {
using namespace parser_text;

request_parser::event request_parser::on_fixed_body(std::span<const char> in) noexcept {
    if (in.empty()) {
        return make_event(state::need_more);
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(p_.remaining, in.size()));
    p_.remaining -= n;
    if (p_.remaining == 0) {
        p_.at = phase::done;
    }
    event e = make_event(state::body_data, n);
    e.body = in.first(n);
    return e;
}

request_parser::step request_parser::on_chunk_size(std::span<const char> in) noexcept {
    // Extensions are skipped but bounded like a request line, so they cannot pile up unconsumed.
    const std::size_t limit = saturating_add(p_.line_start, limits_.max_request_line);
    const line_scan line = scan_line(in, limit, saturating_add(limit, 2), true);
    if (step verdict = line_verdict(line, 400, "chunk size line too long")) {
        return verdict;
    }
    const auto size = parse_chunk_size(view(in, line.begin, line.end));
    if (!size) {
        return fail(400, "invalid chunk size");
    }
    start_line(line.next);
    if (*size == 0) {
        p_.section_start = line.next;
        p_.at = phase::trailers;
        return std::nullopt;
    }
    if (*size > limits_.max_body - p_.body_seen) {
        return fail(413, "body too large");
    }
    p_.body_seen += *size;
    p_.remaining = *size;
    p_.at = phase::chunk_data;
    return std::nullopt;
}

// The framing scanned since the last event is consumed together with the data after it: there
// is no event that consumes bytes without producing anything.
request_parser::event request_parser::on_chunk_data(std::span<const char> in) noexcept {
    const std::size_t framing = p_.scanned;
    if (framing == in.size()) {
        return make_event(state::need_more);
    }
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(p_.remaining, in.size() - framing));
    p_.remaining -= n;
    if (p_.remaining == 0) {
        p_.at = phase::chunk_data_end;
    }
    start_line(0);
    event e = make_event(state::body_data, framing + n);
    e.body = in.subspan(framing, n);
    return e;
}

request_parser::step request_parser::on_chunk_data_end(std::span<const char> in) noexcept {
    const std::size_t at = p_.scanned;
    if (at == in.size()) {
        return make_event(state::need_more);
    }
    if (in[at] != '\r') {
        return fail(400, "chunk data not followed by CRLF");
    }
    if (at + 1 == in.size()) {
        return make_event(state::need_more);
    }
    if (in[at + 1] != '\n') {
        return fail(400, "chunk data not followed by CRLF");
    }
    start_line(at + 2);
    p_.at = phase::chunk_size;
    return std::nullopt;
}

// Trailer fields are checked like header fields, then dropped: nothing here uses them.
request_parser::step request_parser::on_trailer_line(std::span<const char> in) noexcept {
    const std::size_t limit = saturating_add(p_.section_start, limits_.max_header_section);
    const line_scan line = scan_line(in, limit, limit, true);
    if (step verdict = line_verdict(line, 431, "trailer section too large")) {
        return verdict;
    }
    start_line(line.next);
    if (line.end == line.begin) {
        start_line(0);
        p_.at = phase::done;
        return make_event(state::message_done, line.next);
    }
    const field_line field = split_field(view(in, line.begin, line.end));
    if (!field.why.empty()) {
        return fail(400, field.why);
    }
    return std::nullopt;
}

}  // namespace corio::http
