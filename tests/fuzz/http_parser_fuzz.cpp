// SPDX-License-Identifier: MIT
// libFuzzer entry for corio::http::request_parser. Each input is parsed as a connection's byte
// stream (pipelined requests, reset() after each message_done) under two sets of limits, fed in
// one piece, one byte at a time and in uneven pieces; the three traces must be identical and
// every event must keep the parser's invariants. A violation prints what broke and aborts, so
// http_parser_corpus_replay (the same file with a plain main) fails too.
#include <corio/http/parser.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <span>
#include <string>
#include <string_view>

using corio::http::parser_limits;
using corio::http::request_head;
using corio::http::request_parser;
using state = request_parser::state;

namespace {

// Set while the parser runs: any allocation then is a bug (the parser promises none).
bool parser_running = false;

[[noreturn]] void violated(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "http_parser_fuzz: invariant violated: %s\n%.*s\n", what,
                 static_cast<int>(detail.size()), detail.data());
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok) {
        violated(what);
    }
}

// Whether [p, p + n) lies within `in` (the end pointer included, for empty views).
bool inside(std::span<const char> in, const char* p, std::size_t n) {
    const std::less_equal<const char*> le;
    return le(in.data(), p) && le(p, in.data() + in.size()) && n <= in.size() &&
           le(p + n, in.data() + in.size());
}

bool inside(std::span<const char> in, std::string_view v) {
    return inside(in, v.data(), v.size());
}

request_parser::event parse(request_parser& p, std::span<const char> in) {
    parser_running = true;
    const request_parser::event e = p.parse(in);
    parser_running = false;
    return e;
}

// The head as text, after checking that its views lie in the bytes it was parsed from and
// that it respects what the parser promises about it.
std::string describe(const request_head& h, std::span<const char> in, const parser_limits& lim) {
    check(inside(in, h.target) && inside(in, h.path) && inside(in, h.query), "head view outside");
    check(h.path == "*" || h.path.starts_with('/'), "path neither '*' nor '/...'");
    check(h.version_minor == 0 || h.version_minor == 1, "version");
    check(!(h.chunked && h.content_length), "chunked with Content-Length");
    check(h.headers.size() <= lim.max_headers, "more headers than max_headers");
    std::string out = std::string(to_string(h.verb)) + ' ' + std::string(h.target) +
                      " path=" + std::string(h.path) + " query=" + std::string(h.query) + " 1." +
                      std::to_string(h.version_minor);
    for (const auto& f : h.headers) {
        check(inside(in, f.name) && inside(in, f.value), "field view outside");
        check(!f.name.empty(), "empty field name");
        check(f.value.empty() || (f.value.front() != ' ' && f.value.front() != '\t' &&
                                  f.value.back() != ' ' && f.value.back() != '\t'),
              "untrimmed value");
        for (char c : f.value) {
            const auto u = static_cast<unsigned char>(c);
            check(u == '\t' || (u >= 0x20 && u != 0x7f), "control character in value");
        }
        out += '|' + std::string(f.name) + ':' + std::string(f.value);
    }
    out += " cl=" + (h.content_length ? std::to_string(*h.content_length) : std::string("-"));
    out += h.chunked ? " chunked" : "";
    out += h.keep_alive ? " keep-alive" : " close";
    out += h.expect_continue ? " 100-continue" : "";
    return out;
}

// The parser's own invariants on one event, whatever the input.
void check_event(const request_parser::event& e, std::span<const char> in) {
    check(e.consumed <= in.size(), "consumed more than the input");
    switch (e.kind) {
        case state::need_more:
            check(e.consumed == 0, "need_more consumed bytes");
            break;
        case state::head_done:
            check(e.consumed > 0, "empty head");
            break;
        case state::body_data:
            check(!e.body.empty(), "empty body_data");
            check(inside(in, e.body.data(), e.body.size()), "body outside the input");
            check(e.body.data() + e.body.size() == in.data() + e.consumed, "body not at the end");
            break;
        case state::message_done:
            break;
        case state::error:
            check(e.consumed == 0, "error consumed bytes");
            check(e.status == 400 || e.status == 413 || e.status == 414 || e.status == 431 ||
                      e.status == 501 || e.status == 505,
                  "undocumented status");
            check(!e.reason.empty(), "error without a reason");
            break;
    }
}

// Parses `data` as one connection, revealing `next(step)` more bytes whenever the parser needs
// more (SIZE_MAX: all at once), and returns the trace of heads, bodies and outcomes.
std::string run(std::span<const char> data, const parser_limits& lim,
                std::size_t (*next)(std::size_t)) {
    request_parser p(lim);
    std::string trace, body;
    std::size_t start = 0, end = std::min(data.size(), next(0));
    std::size_t reveals = 1;
    const std::size_t max_steps = 8 * data.size() + 16;
    for (std::size_t steps = 0;; ++steps) {
        check(steps < max_steps, "no progress");
        const auto in = data.subspan(start, end - start);
        const request_parser::event e = parse(p, in);
        check_event(e, in);
        switch (e.kind) {
            case state::need_more:
                check(parse(p, in).kind == state::need_more, "need_more not repeated");
                if (end == data.size()) {
                    return trace + "need_more@" + std::to_string(start) + " body=" + body + '\n';
                }
                end = std::min(data.size(), end + next(reveals++));
                break;
            case state::head_done:
                trace += "head@" + std::to_string(start + e.consumed) + ' ' +
                         describe(p.head(), data.subspan(start, e.consumed), lim) + '\n';
                break;
            case state::body_data:
                body.append(e.body.data(), e.body.size());
                break;
            case state::message_done: {
                check(body.size() <= lim.max_body, "body over max_body");
                check(!p.head().content_length || *p.head().content_length == body.size(),
                      "body size differs from Content-Length");
                const auto again = parse(p, in.subspan(e.consumed));
                check(again.kind == state::message_done && again.consumed == 0,
                      "message_done not repeated");
                trace += "done@" + std::to_string(start + e.consumed) + " body=" + body + '\n';
                body.clear();
                parser_running = true;
                p.reset();
                parser_running = false;
                break;
            }
            case state::error: {
                const auto again = parse(p, in);
                check(again.kind == state::error && again.status == e.status &&
                          again.reason == e.reason,
                      "error not sticky");
                return trace + "error@" + std::to_string(start) + ' ' + std::to_string(e.status) +
                       ' ' + std::string(e.reason) + " body=" + body + '\n';
            }
        }
        start += e.consumed;
    }
}

std::size_t whole(std::size_t) {
    return SIZE_MAX;
}
std::size_t one_byte(std::size_t) {
    return 1;
}
// Uneven pieces, so that line ends, CRLF pairs and chunk boundaries straddle calls.
std::size_t uneven(std::size_t step) {
    return 1 + (step * 7 + 3) % 13;
}

void compare(std::span<const char> data, const parser_limits& lim) {
    const std::string reference = run(data, lim, whole);
    for (auto* split : {one_byte, uneven}) {
        const std::string trace = run(data, lim, split);
        if (trace != reference) {
            violated("traces differ between splits", "whole:\n" + reference + "split (" +
                                                         (split == one_byte ? "1" : "uneven") +
                                                         "):\n" + trace);
        }
    }
}

}  // namespace

// Counting replacements: a parser allocation aborts; everything else goes to malloc.
void* operator new(std::size_t n) {
    if (parser_running) {
        violated("request_parser allocated");
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) {
        return p;
    }
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    return operator new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    if (parser_running) {
        violated("request_parser allocated");
    }
    return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
    return operator new(n, t);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const std::span<const char> data(reinterpret_cast<const char*>(bytes), size);
    compare(data, parser_limits{});
    // Small limits, so that 413, 414 and 431 are reachable with short inputs.
    compare(
        data,
        parser_limits{
            .max_request_line = 40, .max_header_section = 160, .max_headers = 4, .max_body = 64});
    return 0;
}
