// SPDX-License-Identifier: MIT
// request_parser, its head: the state machine, line scanning, the request line, header fields and
// the framing they decide (RFC 9112 §2-§6). Bodies and trailers are in parser_body.cpp.
#include <corio/http/parser.hpp>

#include "http/parser_text.hpp"

#include <algorithm>
#include <cassert>

namespace corio::http {
using namespace parser_text;

std::string_view to_string(method m) noexcept {
    const auto i = static_cast<std::size_t>(m);
    return i < method_names.size() ? method_names[i] : std::string_view("?");
}

std::optional<std::string_view> request_head::header(std::string_view name) const noexcept {
    return find_field(headers, name);
}

request_parser::request_parser(parser_limits limits) noexcept : limits_(limits) {}

// Member by member rather than `= {}`: that built temporaries and zeroed them with `rep stos`,
// which cost more than the rest of a pipelined request's parse. Every member is listed.
void request_parser::reset() noexcept {
    head_.verb = method::get;
    head_.target = head_.path = head_.query = {};
    head_.version_minor = 1;
    head_.headers = {};
    head_.content_length.reset();
    head_.chunked = false;
    head_.keep_alive = true;
    head_.expect_continue = false;
    p_.at = phase::request_line;
    p_.scanned = p_.line_start = p_.section_start = 0;
    p_.remaining = p_.body_seen = 0;
    p_.field_count = 0;
    p_.target = p_.path = p_.query = {};
    p_.host_count = 0;
    p_.transfer_encoding = p_.close_token = p_.keep_alive_token = p_.expect_continue = false;
    p_.status = 0;
    p_.reason = {};
}

request_parser::event request_parser::parse(std::span<const char> in) noexcept {
    // The caller must pass at least the bytes already scanned; fewer is a bug on its side, and
    // rescanning from a shorter input would silently misparse.
    assert(in.size() >= p_.scanned && "request_parser::parse: input shorter than last time");
    if (in.size() < p_.scanned) {
        return make_event(state::need_more);
    }
    for (;;) {
        step next;
        switch (p_.at) {
            case phase::request_line:
                next = on_request_line(in);
                break;
            case phase::fields:
                next = on_field_line(in);
                break;
            case phase::fixed_body:
                return on_fixed_body(in);
            case phase::chunk_size:
                next = on_chunk_size(in);
                break;
            case phase::chunk_data:
                return on_chunk_data(in);
            case phase::chunk_data_end:
                next = on_chunk_data_end(in);
                break;
            case phase::trailers:
                next = on_trailer_line(in);
                break;
            case phase::done:
                return make_event(state::message_done);
            case phase::failed:
                return failure();
        }
        if (next) {
            return *next;
        }
    }
}

request_parser::line_scan request_parser::scan_verdict(scan kind, std::string_view why) noexcept {
    line_scan line;
    line.kind = kind;
    line.why = why;
    return line;
}

// Finds the end of the line that starts at p_.line_start, resuming at p_.scanned. Bytes are
// judged one at a time in order, so the verdict does not depend on how the input was split: a
// byte at or past content_limit that does not end the line → too_long, as does a line ending
// reaching ending_limit; a control character or a CR without LF → invalid.
request_parser::line_scan request_parser::scan_line(std::span<const char> in,
                                                    std::size_t content_limit,
                                                    std::size_t ending_limit,
                                                    bool crlf_only) noexcept {
    line_scan line;
    line.begin = p_.line_start;
    const std::size_t plain_stop = std::min(in.size(), content_limit);
    for (std::size_t i = p_.scanned; i < in.size(); ++i) {
        i = skip_plain(in.data(), i, plain_stop);
        if (i == in.size()) {
            break;
        }
        const auto c = static_cast<unsigned char>(in[i]);
        if (c == '\n') {
            if (i >= ending_limit) {
                return scan_verdict(scan::too_long);
            }
            if (crlf_only) {
                return scan_verdict(scan::invalid, "bare LF in chunked framing");
            }
            line.kind = scan::complete;
            line.end = i;
            line.next = i + 1;
            return line;
        }
        if (c == '\r') {
            if (i + 1 >= ending_limit) {
                return scan_verdict(scan::too_long);
            }
            if (i + 1 == in.size()) {
                p_.scanned = i;  // the next byte decides: look at this CR again then
                return line;
            }
            if (in[i + 1] != '\n') {
                return scan_verdict(scan::invalid, "CR not followed by LF");
            }
            line.kind = scan::complete;
            line.end = i;
            line.next = i + 2;
            return line;
        }
        if (i >= content_limit) {
            return scan_verdict(scan::too_long);
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return scan_verdict(scan::invalid, "control character");
        }
    }
    p_.scanned = in.size();
    return line;
}

request_parser::step request_parser::line_verdict(const line_scan& line, int too_long_status,
                                                  std::string_view too_long_reason) noexcept {
    switch (line.kind) {
        case scan::partial:
            return make_event(state::need_more);
        case scan::too_long:
            return fail(too_long_status, too_long_reason);
        case scan::invalid:
            return fail(400, line.why);
        case scan::complete:
            break;
    }
    return std::nullopt;
}

request_parser::slice request_parser::slice_in(std::span<const char> in,
                                               std::string_view part) noexcept {
    return {static_cast<std::size_t>(part.data() - in.data()), part.size()};
}

void request_parser::start_line(std::size_t at) noexcept {
    p_.line_start = at;
    p_.scanned = at;
}

request_parser::step request_parser::on_request_line(std::span<const char> in) noexcept {
    // The limit counts from the first byte, so skipped empty lines cannot grow the buffer forever.
    const std::size_t limit = limits_.max_request_line;
    const line_scan line = scan_line(in, limit, saturating_add(limit, 2), false);
    if (step verdict = line_verdict(line, 414, "request line too long")) {
        return verdict;
    }
    start_line(line.next);
    if (line.end == line.begin) {
        return std::nullopt;  // RFC 9112 §2.2: ignore empty lines first
    }
    if (step err = parse_request_line(in, line)) {
        return err;
    }
    p_.section_start = line.next;
    p_.at = phase::fields;
    return std::nullopt;
}

// method SP request-target SP HTTP-version; syntax is checked first (400), then the version
// (505), then the method (501), then the target's form, which depends on the method.
request_parser::step request_parser::parse_request_line(std::span<const char> in,
                                                        const line_scan& line) noexcept {
    const std::string_view text = view(in, line.begin, line.end);
    const auto sp1 = find_space(text, 0);
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : find_space(text, sp1 + 1);
    if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1) {
        return fail(400, "malformed request line");
    }
    const auto method_text = text.substr(0, sp1);
    const auto target = text.substr(sp1 + 1, sp2 - sp1 - 1);
    if (!std::all_of(method_text.begin(), method_text.end(), is_tchar)) {
        return fail(400, "invalid method");
    }
    if (!std::all_of(target.begin(), target.end(), is_target_char)) {
        return fail(400, "invalid request-target");
    }
    const int minor = parse_version(text.substr(sp2 + 1));
    if (minor == -1) {
        return fail(400, "malformed HTTP version");
    }
    if (minor < 0) {
        return fail(505, "HTTP version not supported");
    }
    const std::optional<method> known = method_of(method_text);
    if (!known) {
        return fail(501, "method not implemented");
    }
    head_.verb = *known;
    head_.version_minor = minor;
    if (head_.verb == method::connect) {
        return fail(400, "CONNECT is not supported");
    }
    return set_target(in, target);
}

request_parser::step request_parser::set_target(std::span<const char> in,
                                                std::string_view target) noexcept {
    const auto slice_of = [in](std::string_view part) { return slice_in(in, part); };
    std::string_view path = target;
    if (target == "*") {
        if (head_.verb != method::options) {
            return fail(400, "'*' target outside OPTIONS");
        }
    } else if (target.front() != '/') {
        const std::size_t scheme = istarts_with(target, "http://")    ? 7
                                   : istarts_with(target, "https://") ? 8
                                                                      : 0;
        if (scheme == 0) {
            return fail(400, "unsupported request-target form");
        }
        const auto rest = target.substr(scheme);
        const auto authority = rest.substr(0, rest.find_first_of("/?"));
        if (authority.empty() || authority.find('@') != std::string_view::npos) {
            return fail(400, "invalid authority in request-target");
        }
        path = rest.substr(authority.size());
        // No path: "/" as a view of the scheme's last '/', so every view stays in the input.
        if (path.empty() || path.front() == '?') {
            p_.query = slice_of(path.empty() ? path : path.substr(1));
            p_.path = slice_of(target.substr(scheme - 1, 1));
            p_.target = slice_of(target);
            return std::nullopt;
        }
    }
    const auto question = path.find('?');
    p_.target = slice_of(target);
    p_.path = slice_of(path.substr(0, question));
    p_.query = slice_of(question == std::string_view::npos ? path.substr(path.size())
                                                           : path.substr(question + 1));
    return std::nullopt;
}

request_parser::step request_parser::on_field_line(std::span<const char> in) noexcept {
    const std::size_t limit = saturating_add(p_.section_start, limits_.max_header_section);
    const line_scan line = scan_line(in, limit, limit, false);
    if (step verdict = line_verdict(line, 431, "header section too large")) {
        return verdict;
    }
    start_line(line.next);
    if (line.end == line.begin) {
        return finish_head(in, line.next);
    }
    const field_line field = split_field(view(in, line.begin, line.end));
    if (!field.why.empty()) {
        return fail(400, field.why);
    }
    if (p_.field_count == std::min(limits_.max_headers, max_fields)) {
        return fail(431, "too many header fields");
    }
    slices_[p_.field_count++] = {slice_in(in, field.name), slice_in(in, field.value)};
    return apply_field(field.name, field.value);
}

// The fields that frame the message or change how the connection is handled.
request_parser::step request_parser::apply_field(std::string_view name,
                                                 std::string_view value) noexcept {
    if (iequals(name, "content-length")) {
        return apply_content_length(value);
    }
    if (iequals(name, "transfer-encoding")) {
        // Only "chunked" alone frames a body this server can read; codings before it would have
        // to be undone by the application, and a second field would repeat chunked.
        if (p_.transfer_encoding) {
            return fail(400, "repeated Transfer-Encoding");
        }
        if (!iequals(value, "chunked")) {
            return fail(400, "unsupported Transfer-Encoding");
        }
        p_.transfer_encoding = true;
    } else if (iequals(name, "connection")) {
        p_.close_token = p_.close_token || has_token(value, "close");
        p_.keep_alive_token = p_.keep_alive_token || has_token(value, "keep-alive");
    } else if (iequals(name, "expect")) {
        p_.expect_continue = p_.expect_continue || iequals(value, "100-continue");
    } else if (iequals(name, "host")) {
        // RFC 9112 §3.2: more than one Host, or an invalid one, is a 400.
        if (++p_.host_count > 1) {
            return fail(400, "repeated Host");
        }
        if (!std::all_of(value.begin(), value.end(), is_host_char)) {
            return fail(400, "invalid Host");
        }
    }
    return std::nullopt;
}

// RFC 9112 §6.3: several values (fields or a list) are accepted only when all are the same.
request_parser::step request_parser::apply_content_length(std::string_view value) noexcept {
    std::string_view why;
    each_element(value, [&](std::string_view element) {
        const auto n = parse_decimal(element);
        if (!n) {
            why = "malformed Content-Length";
        } else if (head_.content_length && *head_.content_length != *n) {
            why = "conflicting Content-Length";
        } else {
            head_.content_length = n;
        }
        return why.empty();
    });
    if (!why.empty()) {
        return fail(400, why);
    }
    return std::nullopt;
}

request_parser::step request_parser::finish_head(std::span<const char> in,
                                                 std::size_t head_size) noexcept {
    if (p_.transfer_encoding) {
        // RFC 9112 §6.1 and §6.3: both, or chunked in 1.0, mean framing a proxy may read
        // differently; refusing is the only answer safe from request smuggling.
        if (head_.content_length) {
            return fail(400, "both Content-Length and Transfer-Encoding");
        }
        if (head_.version_minor == 0) {
            return fail(400, "Transfer-Encoding in HTTP/1.0");
        }
        head_.chunked = true;
    } else if (head_.content_length && *head_.content_length > limits_.max_body) {
        return fail(413, "body too large");
    }
    if (head_.version_minor == 1 && p_.host_count == 0) {
        return fail(400, "missing Host");
    }
    head_.keep_alive = !p_.close_token && (head_.version_minor == 1 || p_.keep_alive_token);
    head_.expect_continue = p_.expect_continue && head_.version_minor == 1;

    const auto at = [&](slice s) { return std::string_view(in.data() + s.at, s.size); };
    head_.target = at(p_.target);
    head_.path = at(p_.path);
    head_.query = at(p_.query);
    for (std::size_t i = 0; i < p_.field_count; ++i) {
        fields_[i] = {at(slices_[i].name), at(slices_[i].value)};
    }
    head_.headers = std::span<const header_field>(fields_, p_.field_count);

    start_line(0);  // the next call's input starts after the head
    if (head_.chunked) {
        p_.at = phase::chunk_size;
    } else if (head_.content_length.value_or(0) > 0) {
        p_.remaining = *head_.content_length;
        p_.at = phase::fixed_body;
    } else {
        p_.at = phase::done;
    }
    return make_event(state::head_done, head_size);
}

request_parser::event request_parser::fail(int status, std::string_view reason) noexcept {
    p_.at = phase::failed;
    p_.status = status;
    p_.reason = reason;
    p_.scanned = 0;  // later calls may pass any input: the error is repeated without looking at it
    return failure();
}

request_parser::event request_parser::failure() const noexcept {
    event e = make_event(state::error);
    e.status = p_.status;
    e.reason = p_.reason;
    return e;
}

}  // namespace corio::http
