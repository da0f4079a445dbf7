// SPDX-License-Identifier: MIT
// Tests for corio/http/parser.hpp: request line, fields, framing (Content-Length, chunked),
// limits and their status codes, connection handling, incremental and pipelined input.
#include <corio/http/parser.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using corio::http::method;
using corio::http::parser_limits;
using corio::http::request_head;
using corio::http::request_parser;
using state = request_parser::state;
using namespace std::literals;

namespace {

// What feeding one request's bytes to a parser produced.
struct outcome {
    std::vector<state> events;          // every event but need_more, in order
    std::vector<std::size_t> consumed;  // each of those events' consumed
    int status = 0;                     // the error's status, 0 when none
    std::string reason;
    std::string body;
    std::size_t used = 0;  // bytes consumed in all
    bool complete = false;
};

std::span<const char> bytes(std::string_view s) {
    return {s.data(), s.size()};
}

// Feeds `wire` to `p`, revealing `step` more bytes whenever it needs more (0: all at once),
// until message_done, an error, or the end of the bytes.
outcome feed(request_parser& p, std::string_view wire, std::size_t step = 0) {
    outcome out;
    std::size_t end = step == 0 ? wire.size() : std::min(step, wire.size());
    for (int guard = 0; guard < 100000; ++guard) {
        const auto e = p.parse(bytes(wire.substr(out.used, end - out.used)));
        if (e.kind == state::need_more) {
            REQUIRE(e.consumed == 0);
            if (end == wire.size()) {
                return out;
            }
            end = std::min(wire.size(), end + (step == 0 ? wire.size() : step));
            continue;
        }
        out.events.push_back(e.kind);
        out.consumed.push_back(e.consumed);
        out.used += e.consumed;
        if (e.kind == state::body_data) {
            out.body.append(e.body.data(), e.body.size());
        }
        if (e.kind == state::error) {
            out.status = e.status;
            out.reason = e.reason;
            return out;
        }
        if (e.kind == state::message_done) {
            out.complete = true;
            return out;
        }
    }
    FAIL("the parser made no progress");
    return out;
}

// 0 when `wire` parses through message_done, the status when it is rejected, -1 when the bytes
// run out first.
int status_of(std::string_view wire, parser_limits limits = {}) {
    request_parser p(limits);
    const outcome out = feed(p, wire);
    INFO("reason: " << out.reason);
    return out.status != 0 ? out.status : out.complete ? 0 : -1;
}

std::string request(std::string_view line, std::string_view fields = "Host: h\r\n",
                    std::string_view body = "") {
    return std::string(line) + "\r\n" + std::string(fields) + "\r\n" + std::string(body);
}

// Parses a complete head in one piece and requires head_done.
const request_head& head_of(request_parser& p, std::string_view wire) {
    const auto e = p.parse(bytes(wire));
    INFO("wire: " << wire << " status " << e.status << " reason " << e.reason);
    REQUIRE(e.kind == state::head_done);
    return p.head();
}

bool points_into(std::string_view buffer, std::string_view part) {
    return !part.empty() && part.data() >= buffer.data() &&
           part.data() + part.size() <= buffer.data() + buffer.size();
}

// The head as text, for comparing heads parsed in different ways.
std::string describe(const request_head& h) {
    std::string out;
    const auto add = [&out](std::string_view part) { out.append(part); };
    add(to_string(h.verb));
    add(" ");
    add(h.target);
    add(" [");
    add(h.path);
    add("][");
    add(h.query);
    add("] 1.");
    add(std::to_string(h.version_minor));
    for (const auto& f : h.headers) {
        add("|");
        add(f.name);
        add("=");
        add(f.value);
    }
    add(" cl=");
    add(h.content_length ? std::to_string(*h.content_length) : "-");
    add(h.chunked ? " chunked" : "");
    add(h.keep_alive ? " keep-alive" : " close");
    add(h.expect_continue ? " continue" : "");
    return out;
}

}  // namespace

TEST_CASE("to_string gives each method's name as sent on the wire") {
    CHECK(to_string(method::get) == "GET");
    CHECK(to_string(method::head) == "HEAD");
    CHECK(to_string(method::post) == "POST");
    CHECK(to_string(method::put) == "PUT");
    CHECK(to_string(method::delete_) == "DELETE");
    CHECK(to_string(method::options) == "OPTIONS");
    CHECK(to_string(method::patch) == "PATCH");
    CHECK(to_string(method::trace) == "TRACE");
    CHECK(to_string(method::connect) == "CONNECT");
}

TEST_CASE("a request without a body: head_done for the head, then message_done consuming 0") {
    const std::string wire = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
    request_parser p;
    const auto head = p.parse(bytes(wire));
    REQUIRE(head.kind == state::head_done);
    CHECK(head.consumed == wire.size());
    const request_head& h = p.head();
    CHECK(h.verb == method::get);
    CHECK(h.target == "/index.html");
    CHECK(h.path == "/index.html");
    CHECK(h.query.empty());
    CHECK(h.version_minor == 1);
    REQUIRE(h.headers.size() == 2);
    CHECK(h.headers[0].name == "Host");
    CHECK(h.headers[1].value == "*/*");
    CHECK(h.header("HOST") == "example.com");
    CHECK(h.header("accept") == "*/*");
    CHECK_FALSE(h.header("Content-Length"));
    CHECK_FALSE(h.content_length);
    CHECK_FALSE(h.chunked);
    CHECK(h.keep_alive);
    CHECK_FALSE(h.expect_continue);

    const auto done = p.parse({});  // nothing follows, yet the message is complete
    CHECK(done.kind == state::message_done);
    CHECK(done.consumed == 0);
    const auto again = p.parse({});
    CHECK(again.kind == state::message_done);
    CHECK(again.consumed == 0);
}

TEST_CASE("every supported method but CONNECT parses; method names are case-sensitive") {
    auto [name, verb] = GENERATE(table<std::string_view, method>({
        {"GET", method::get},
        {"HEAD", method::head},
        {"POST", method::post},
        {"PUT", method::put},
        {"DELETE", method::delete_},
        {"OPTIONS", method::options},
        {"PATCH", method::patch},
        {"TRACE", method::trace},
    }));
    request_parser p;
    const std::string wire = request(std::string(name) + " /x HTTP/1.1");
    CHECK(head_of(p, wire).verb == verb);
    CHECK(p.parse({}).kind == state::message_done);

    std::string lower(name);
    for (char& c : lower) {
        c = static_cast<char>(c - 'A' + 'a');
    }
    CHECK(status_of(request(lower + " /x HTTP/1.1")) == 501);
}

TEST_CASE("an unknown method token is 501, invalid method characters 400") {
    auto [line, status] = GENERATE(table<std::string_view, int>({
        {"BREW /pot HTTP/1.1", 501},
        {"PROPFIND / HTTP/1.1", 501},
        {"M-SEARCH * HTTP/1.1", 501},
        {"GE(T / HTTP/1.1", 400},
        {"GET@ / HTTP/1.1", 400},
        {"G\x80T / HTTP/1.1", 400},
        {" GET / HTTP/1.1", 400},
    }));
    INFO(line);
    CHECK(status_of(request(line)) == status);
}

TEST_CASE("CONNECT is rejected with 400, authority-form or not") {
    CHECK(status_of(request("CONNECT example.com:443 HTTP/1.1")) == 400);
    CHECK(status_of(request("CONNECT / HTTP/1.1")) == 400);
}

TEST_CASE("HTTP/1.0 and 1.1 parse; other well-formed versions are 505, malformed ones 400") {
    auto [version, status] = GENERATE(table<std::string_view, int>({
        {"HTTP/1.1", 0},
        {"HTTP/1.0", 0},
        {"HTTP/2.0", 505},
        {"HTTP/1.2", 505},
        {"HTTP/0.9", 505},
        {"HTTP/3.0", 505},
        {"HTTP/1.10", 400},
        {"HTTP/1", 400},
        {"http/1.1", 400},
        {"HTTP/1.x", 400},
        {"HTTP /1.1", 400},
        {"HTTP/1.1 ", 400},
        {"", 400},
    }));
    INFO("version: " << version);
    CHECK(status_of(request("GET / " + std::string(version))) == status);
}

TEST_CASE("HTTP/1.0 sets version_minor to 0") {
    request_parser p;
    CHECK(head_of(p, request("GET / HTTP/1.0", "")).version_minor == 0);
}

TEST_CASE("request lines without exactly method SP target SP version are 400") {
    auto line =
        GENERATE("GET  / HTTP/1.1"sv, "GET /  HTTP/1.1"sv, "GET / HTTP/1.1 x"sv, "GET /"sv, "GET"sv,
                 "GET /a\tb HTTP/1.1"sv, "GET /a\x80 HTTP/1.1"sv, "GET\t/ HTTP/1.1"sv);
    INFO(line);
    CHECK(status_of(request(line)) == 400);
}

TEST_CASE("a request line longer than max_request_line is 414; at the limit it parses") {
    parser_limits limits;
    limits.max_request_line = 24;
    const std::string at_limit = "GET /" + std::string(10, 'a') + " HTTP/1.1";
    REQUIRE(at_limit.size() == 24);
    CHECK(status_of(request(at_limit), limits) == 0);
    CHECK(status_of(request("GET /" + std::string(11, 'a') + " HTTP/1.1"), limits) == 414);
    CHECK(status_of(request("GET /" + std::string(9000, 'a') + " HTTP/1.1")) == 414);
}

TEST_CASE("an over-long request line is 414 as soon as the limit is passed, with no line end") {
    parser_limits limits;
    limits.max_request_line = 16;
    const std::string partial = "GET /" + std::string(12, 'a');  // 17 bytes, no CRLF yet
    SECTION("in one piece") {
        request_parser p(limits);
        const auto e = p.parse(bytes(partial));
        CHECK(e.kind == state::error);
        CHECK(e.status == 414);
    }
    SECTION("one byte at a time: need_more up to the limit, 414 on the byte past it") {
        request_parser p(limits);
        for (std::size_t n = 1; n <= 16; ++n) {
            INFO("bytes: " << n);
            REQUIRE(p.parse(bytes(std::string_view(partial).substr(0, n))).kind ==
                    state::need_more);
        }
        const auto e = p.parse(bytes(partial));
        CHECK(e.kind == state::error);
        CHECK(e.status == 414);
    }
}

TEST_CASE("empty lines before the request line are skipped and consumed with the head") {
    const std::string wire = "\r\n\n" + request("GET /after HTTP/1.1");
    request_parser p;
    const auto e = p.parse(bytes(wire));
    REQUIRE(e.kind == state::head_done);
    CHECK(e.consumed == wire.size());
    CHECK(p.head().target == "/after");
}

TEST_CASE("bare LF ends the request line and field lines") {
    const std::string wire = "POST /lf HTTP/1.1\nHost: h\r\nContent-Length: 2\n\nok";
    request_parser p;
    const outcome out = feed(p, wire);
    CHECK(out.complete);
    CHECK(out.used == wire.size());
    CHECK(out.body == "ok");
    CHECK(p.head().header("host") == "h");
}

TEST_CASE("a CR not followed by LF is 400 wherever it is") {
    CHECK(status_of("GET / HTTP/1.1\rHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of(request("GET / HTTP/1.1", "Host: h\r\nX: a\rb\r\n")) == 400);
    CHECK(status_of(request("GET / HTTP/1.1", "Host: h\r\n\r")) == 400);
}

namespace {
// GET `target`: the head keeps it as sent and splits it into `path` and `query`, the path a view
// of the parsed bytes.
void check_target_split(std::string_view target, std::string_view path, std::string_view query) {
    request_parser p;
    const std::string wire = request("GET " + std::string(target) + " HTTP/1.1");
    const request_head& h = head_of(p, wire);
    CAPTURE(target);
    CHECK(h.target == target);
    CHECK(h.path == path);
    CHECK(h.query == query);
    CHECK(points_into(wire, h.path));
}
}  // namespace

TEST_CASE("the target splits into path and query at the first '?'") {
    auto [target, path, query] =
        GENERATE(table<std::string_view, std::string_view, std::string_view>({
            {"/", "/", ""},
            {"/a/b?x=1&y=2", "/a/b", "x=1&y=2"},
            {"/p?", "/p", ""},
            {"/a?b?c", "/a", "b?c"},
            {"/%20x?q=%3F", "/%20x", "q=%3F"},
            {"//double", "//double", ""},
        }));
    check_target_split(target, path, query);
}

TEST_CASE("absolute-form targets: path after the authority, '/' when there is none") {
    auto [target, path, query] =
        GENERATE(table<std::string_view, std::string_view, std::string_view>({
            {"http://example.com/x?y=1", "/x", "y=1"},
            {"http://example.com:8080/a/b", "/a/b", ""},
            {"HTTPS://example.com/s", "/s", ""},
            {"http://example.com", "/", ""},
            {"http://example.com?q", "/", "q"},
            {"https://[::1]:443", "/", ""},
        }));
    check_target_split(target, path, query);  // even the "/" made up for a target without a path
}

TEST_CASE("'*' is a target for OPTIONS only") {
    request_parser p;
    const std::string wire = request("OPTIONS * HTTP/1.1");  // the head's views point into it
    const request_head& h = head_of(p, wire);
    CHECK(h.path == "*");
    CHECK(h.query.empty());
    CHECK(status_of(request("GET * HTTP/1.1")) == 400);
    CHECK(status_of(request("OPTIONS *x HTTP/1.1")) == 400);
}

TEST_CASE("targets in any other form are 400") {
    auto target = GENERATE("example.com:80"sv, "x/y"sv, "ftp://h/"sv, "http:///p"sv,
                           "http://user@h/"sv, "http://"sv, "?q"sv, "http:/h/p"sv);
    INFO(target);
    CHECK(status_of(request("GET " + std::string(target) + " HTTP/1.1")) == 400);
}

TEST_CASE("HTTP/1.1 needs exactly one valid Host; HTTP/1.0 may omit it") {
    CHECK(status_of(request("GET / HTTP/1.1", "Accept: */*\r\n")) == 400);
    CHECK(status_of(request("GET / HTTP/1.1", "Host: a\r\nHost: a\r\n")) == 400);
    CHECK(status_of(request("GET / HTTP/1.1", "Host: a b\r\n")) == 400);
    CHECK(status_of(request("GET / HTTP/1.1", "Host: a/b\r\n")) == 400);
    CHECK(status_of(request("GET / HTTP/1.1", "Host: user@a\r\n")) == 400);
    CHECK(status_of(request("GET / HTTP/1.1", "Host: [::1]:8080\r\n")) == 0);
    CHECK(status_of(request("GET / HTTP/1.1", "Host:\r\n")) == 0);  // RFC 9110 §7.2: may be empty
    CHECK(status_of(request("GET / HTTP/1.0", "")) == 0);
    CHECK(status_of(request("GET http://h/ HTTP/1.1", "")) == 400);
}

TEST_CASE("field values lose surrounding OWS and keep inner HTAB and obs-text") {
    request_parser p;
    const std::string wire =
        request("GET / HTTP/1.1",
                "Host: h\r\nX-A: \t a \t b \t\r\nX-Empty:\r\nX-Ws:   \r\nX-Obs: caf\xc3\xa9\r\n");
    const request_head& h = head_of(p, wire);
    CHECK(h.header("x-a") == "a \t b");
    CHECK(h.header("x-empty") == "");
    CHECK(h.header("x-ws") == "");
    CHECK(h.header("x-obs") == "caf\xc3\xa9");
    for (const auto& f : h.headers) {
        CHECK(points_into(wire, f.name));
    }
}

TEST_CASE("whitespace between a field name and its colon is 400") {
    CHECK(status_of(request("GET / HTTP/1.1", "Host : h\r\n")) == 400);
    CHECK(status_of(request("GET / HTTP/1.1", "Host: h\r\nX-A\t: v\r\n")) == 400);
    request_parser p;
    const auto out = feed(p, request("GET / HTTP/1.1", "Host: h\r\nX-A  : v\r\n"));
    CHECK(out.reason == "whitespace between field name and colon");
}

TEST_CASE("obs-fold and whitespace before the first field are 400") {
    auto fields =
        GENERATE("Host: h\r\nX-A: one\r\n two\r\n"sv, "Host: h\r\nX-A: one\r\n\ttwo\r\n"sv,
                 " Host: h\r\n"sv, "Host: h\r\nX-A: one\r\n : two\r\n"sv);
    INFO(fields);
    request_parser p;
    const outcome out = feed(p, request("GET / HTTP/1.1", fields));
    CHECK(out.status == 400);
    CHECK(out.reason == "obs-fold or whitespace before a field");
}

TEST_CASE("malformed field lines are 400") {
    auto field = GENERATE("X-NoColon"sv, ": empty name"sv, "X(y): v"sv, "X y: v"sv, "X\x80: v"sv,
                          "X\"q: v"sv);
    INFO(field);
    CHECK(status_of(request("GET / HTTP/1.1", "Host: h\r\n" + std::string(field) + "\r\n")) == 400);
}

TEST_CASE("control characters other than HTAB are 400 in field lines") {
    auto bad =
        GENERATE("\x01"sv, "\x1f"sv, "\x7f"sv, "\x0b"sv, "\x0c"sv, std::string_view("\0", 1));
    INFO("byte " << static_cast<int>(bad[0]));
    CHECK(status_of(request("GET / HTTP/1.1", "Host: h\r\nX: a" + std::string(bad) + "b\r\n")) ==
          400);
    CHECK(status_of(request("GET / HTTP/1.1", "Host: h\r\nX" + std::string(bad) + ": b\r\n")) ==
          400);
    CHECK(status_of(request("GET / HTTP/1.1", "Host: h\r\nX: a\tb\r\n")) == 0);
}

TEST_CASE("more than max_headers fields is 431") {
    parser_limits limits;
    limits.max_headers = 3;
    CHECK(status_of(request("GET / HTTP/1.1", "Host: h\r\nA: 1\r\nB: 2\r\n"), limits) == 0);
    CHECK(status_of(request("GET / HTTP/1.1", "Host: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n"), limits) ==
          431);
}

TEST_CASE("max_headers above the fixed array's 128 fields is capped at 128") {
    parser_limits limits;
    limits.max_headers = 1000;
    std::string fields = "Host: h\r\n";
    for (int i = 1; i < 128; ++i) {
        fields += "X-" + std::to_string(i) + ": v\r\n";
    }
    request_parser p(limits);
    CHECK(head_of(p, request("GET / HTTP/1.1", fields)).headers.size() == 128);
    CHECK(status_of(request("GET / HTTP/1.1", fields + "X-128: v\r\n"), limits) == 431);
}

TEST_CASE("a header section over max_header_section is 431; at the limit it parses") {
    const std::string fields = "Host: h\r\nX-Long: " + std::string(30, 'v') + "\r\n";
    const std::size_t section = fields.size() + 2;  // with the final CRLF
    parser_limits limits;
    limits.max_header_section = section;
    CHECK(status_of(request("GET / HTTP/1.1", fields), limits) == 0);
    limits.max_header_section = section - 1;
    CHECK(status_of(request("GET / HTTP/1.1", fields), limits) == 431);
}

TEST_CASE("an over-long header section is 431 before its end arrives") {
    parser_limits limits;
    limits.max_header_section = 64;
    request_parser p(limits);
    const std::string partial = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(100, 'v');
    const auto e = p.parse(bytes(partial));
    CHECK(e.kind == state::error);
    CHECK(e.status == 431);
}

TEST_CASE("a Content-Length body arrives as body_data pieces pointing into the input") {
    const std::string head = request("POST /up HTTP/1.1", "Host: h\r\nContent-Length: 10\r\n");
    const std::string wire = head + "0123456789";
    request_parser p;
    const std::string_view all(wire);

    auto e = p.parse(bytes(all.substr(0, head.size() + 3)));  // the head and 3 body bytes
    REQUIRE(e.kind == state::head_done);
    CHECK(e.consumed == head.size());
    CHECK(p.head().content_length == 10u);

    e = p.parse(bytes(all.substr(head.size(), 3)));
    REQUIRE(e.kind == state::body_data);
    CHECK(e.consumed == 3);
    CHECK(e.body.data() == wire.data() + head.size());
    CHECK(std::string_view(e.body.data(), e.body.size()) == "012");

    CHECK(p.parse({}).kind == state::need_more);

    e = p.parse(bytes(all.substr(head.size() + 3)));  // the rest, and nothing after it
    REQUIRE(e.kind == state::body_data);
    CHECK(e.consumed == 7);
    CHECK(e.body.data() == wire.data() + head.size() + 3);
    CHECK(std::string_view(e.body.data(), e.body.size()) == "3456789");

    e = p.parse({});
    CHECK(e.kind == state::message_done);
    CHECK(e.consumed == 0);
}

TEST_CASE("body_data never takes bytes past Content-Length") {
    const std::string wire =
        request("POST / HTTP/1.1", "Host: h\r\nContent-Length: 4\r\n", "abcdGET / HTTP/1.1\r\n");
    request_parser p;
    const outcome out = feed(p, wire);
    CHECK(out.complete);
    CHECK(out.body == "abcd");
    CHECK(wire.substr(out.used) == "GET / HTTP/1.1\r\n");
}

TEST_CASE("Content-Length: 0 gives head_done then message_done, no body_data") {
    request_parser p;
    const outcome out = feed(p, request("POST / HTTP/1.1", "Host: h\r\nContent-Length: 0\r\n"));
    CHECK(out.events == std::vector{state::head_done, state::message_done});
    CHECK(out.consumed.back() == 0);
    CHECK(p.head().content_length == 0u);
}

TEST_CASE("malformed Content-Length is 400") {
    auto value = GENERATE(""sv, "-1"sv, "+1"sv, "1a"sv, "0x10"sv, "1 2"sv, "5,"sv, ",5"sv, "1.0"sv,
                          "18446744073709551616"sv, "99999999999999999999999"sv);
    INFO("Content-Length: " << value);
    CHECK(status_of(request("POST / HTTP/1.1",
                            "Host: h\r\nContent-Length: " + std::string(value) + "\r\n")) == 400);
}

TEST_CASE("repeated Content-Length: equal values are accepted, different ones are 400") {
    CHECK(status_of(request("POST / HTTP/1.1",
                            "Host: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n", "abc")) == 0);
    CHECK(status_of(request("POST / HTTP/1.1", "Host: h\r\nContent-Length: 3, 3\r\n", "abc")) == 0);
    CHECK(status_of(request("POST / HTTP/1.1",
                            "Host: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n", "abcd")) ==
          400);
    CHECK(status_of(request("POST / HTTP/1.1", "Host: h\r\nContent-Length: 3,4\r\n", "abcd")) ==
          400);
    CHECK(status_of(request("POST / HTTP/1.1", "Host: h\r\nContent-Length: 03\r\n", "abc")) == 0);
}

TEST_CASE("the largest Content-Length is read exactly, without overflow") {
    const std::string wire =
        request("POST / HTTP/1.1", "Host: h\r\nContent-Length: 18446744073709551615\r\n");
    CHECK(status_of(wire) == 413);
    parser_limits limits;
    limits.max_body = std::numeric_limits<std::uint64_t>::max();
    request_parser p(limits);
    CHECK(head_of(p, wire).content_length == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("a declared body over max_body is 413; at max_body it is accepted") {
    parser_limits limits;
    limits.max_body = 5;
    CHECK(status_of(request("POST / HTTP/1.1", "Host: h\r\nContent-Length: 5\r\n", "12345"),
                    limits) == 0);
    request_parser p(limits);
    // Rejected from the head alone, before any body byte is sent.
    const auto e = p.parse(bytes(request("POST / HTTP/1.1", "Host: h\r\nContent-Length: 6\r\n")));
    CHECK(e.kind == state::error);
    CHECK(e.status == 413);
}

TEST_CASE("Transfer-Encoding must be exactly chunked, once") {
    auto [value, status] = GENERATE(table<std::string_view, int>({
        {"chunked", 0},
        {"Chunked", 0},
        {"CHUNKED", 0},
        {"gzip, chunked", 400},
        {"chunked, gzip", 400},
        {"chunked, chunked", 400},
        {"identity", 400},
        {"", 400},
        {"chunked;q=1", 400},
    }));
    INFO("Transfer-Encoding: " << value);
    CHECK(status_of(request("POST / HTTP/1.1",
                            "Host: h\r\nTransfer-Encoding: " + std::string(value) + "\r\n",
                            "0\r\n\r\n")) == status);
}

TEST_CASE("two Transfer-Encoding fields are 400") {
    CHECK(
        status_of(request("POST / HTTP/1.1",
                          "Host: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                          "0\r\n\r\n")) == 400);
}

TEST_CASE("Transfer-Encoding together with Content-Length is 400, in either order") {
    CHECK(status_of(request("POST / HTTP/1.1",
                            "Host: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                            "0\r\n\r\n")) == 400);
    CHECK(status_of(request("POST / HTTP/1.1",
                            "Host: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                            "0\r\n\r\n")) == 400);
}

TEST_CASE("Transfer-Encoding in an HTTP/1.0 request is 400") {
    CHECK(status_of(request("POST / HTTP/1.0", "Transfer-Encoding: chunked\r\n", "0\r\n\r\n")) ==
          400);
}

TEST_CASE("a chunked body is reassembled whatever the split") {
    const std::string wire =
        request("POST /c HTTP/1.1", "Host: h\r\nTransfer-Encoding: chunked\r\n",
                "5;name=value;flag\r\nhello\r\n"
                "0A\r\n, chunked \r\n"
                "1 ; spaced\r\nX\r\n"
                "0\r\nX-Sum: 1\r\nX-Other: two\r\n\r\n");
    const auto step = GENERATE(range<std::size_t>(0, 40));
    INFO("step " << step);
    request_parser p;
    const outcome out = feed(p, wire, step);
    CHECK(out.complete);
    CHECK(out.body == "hello, chunked X");
    CHECK(out.used == wire.size());
    CHECK(p.head().chunked);
    CHECK_FALSE(p.head().content_length);
}

TEST_CASE("chunked: body_data consumes the framing before its data, message_done the trailers") {
    const std::string head =
        request("POST / HTTP/1.1", "Host: h\r\nTransfer-Encoding: chunked\r\n");
    const std::string wire = head + "5;e=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: v\r\n\r\n";
    request_parser p;
    std::string_view rest(wire);
    auto e = p.parse(bytes(rest));
    REQUIRE(e.kind == state::head_done);
    rest.remove_prefix(e.consumed);

    e = p.parse(bytes(rest));
    REQUIRE(e.kind == state::body_data);
    CHECK(e.consumed == "5;e=1\r\nhello"sv.size());
    CHECK(e.body.data() == wire.data() + head.size() + "5;e=1\r\n"sv.size());
    CHECK(std::string_view(e.body.data(), e.body.size()) == "hello");
    rest.remove_prefix(e.consumed);

    e = p.parse(bytes(rest));
    REQUIRE(e.kind == state::body_data);
    CHECK(e.consumed == "\r\nA\r\n0123456789"sv.size());
    CHECK(std::string_view(e.body.data(), e.body.size()) == "0123456789");
    CHECK(points_into(rest, std::string_view(e.body.data(), e.body.size())));
    rest.remove_prefix(e.consumed);

    e = p.parse(bytes(rest));
    CHECK(e.kind == state::message_done);
    CHECK(e.consumed == "\r\n0\r\nX-T: v\r\n\r\n"sv.size());
    CHECK(e.consumed == rest.size());
}

TEST_CASE("chunk sizes that are empty, not hex or overflow are 400") {
    auto size_line = GENERATE(""sv, "zz"sv, "-1"sv, " 5"sv, "5 "sv, "0x5"sv, "5x"sv, "5\"q"sv,
                              "10000000000000005"sv);  // would wrap to 5 and parse
    INFO("chunk size line: [" << size_line << "]");
    CHECK(status_of(request("POST / HTTP/1.1", "Host: h\r\nTransfer-Encoding: chunked\r\n",
                            std::string(size_line) + "\r\nhello\r\n0\r\n\r\n")) == 400);
}

TEST_CASE("chunk sizes in any case, with leading zeros, up to 16 hex digits are read exactly") {
    CHECK(status_of(request("POST / HTTP/1.1", "Host: h\r\nTransfer-Encoding: chunked\r\n",
                            "0005\r\nhello\r\na\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n")) ==
          0);
    // The largest size parses (no overflow) and is then over max_body.
    CHECK(status_of(request("POST / HTTP/1.1", "Host: h\r\nTransfer-Encoding: chunked\r\n",
                            "FFFFFFFFFFFFFFFF\r\nx")) == 413);
}

TEST_CASE("chunk data not followed by CRLF is 400") {
    auto after = GENERATE("X\r\n0\r\n\r\n"sv, "X\n0\r\n\r\n"sv, "\n0\r\n\r\n"sv, "\rX0\r\n\r\n"sv);
    INFO("after the data: " << after);
    CHECK(status_of(request("POST / HTTP/1.1", "Host: h\r\nTransfer-Encoding: chunked\r\n",
                            "3\r\nabc" + std::string(after))) == 400);
}

TEST_CASE("bare LF in chunked framing and trailers is 400") {
    const std::string head =
        request("POST / HTTP/1.1", "Host: h\r\nTransfer-Encoding: chunked\r\n");
    CHECK(status_of(head + "3\nabc\r\n0\r\n\r\n") == 400);
    CHECK(status_of(head + "3\r\nabc\r\n0\n\r\n") == 400);
    CHECK(status_of(head + "3\r\nabc\r\n0\r\n\n") == 400);
    CHECK(status_of(head + "3\r\nabc\r\n0\r\nX: y\n\r\n") == 400);
    CHECK(status_of(head + "3\r\nabc\r\n0\r\nX: y\r\n\r\n") == 0);
}

TEST_CASE("chunk extensions are bounded by max_request_line") {
    parser_limits limits;
    limits.max_request_line = 32;
    const std::string head =
        request("POST / HTTP/1.1", "Host: h\r\nTransfer-Encoding: chunked\r\n");
    CHECK(status_of(head + "1;" + std::string(30, 'e') + "\r\nx\r\n0\r\n\r\n", limits) == 0);
    request_parser p(limits);
    REQUIRE(p.parse(bytes(head)).kind == state::head_done);
    const auto e = p.parse(bytes("1;" + std::string(40, 'e')));  // no line end yet
    CHECK(e.kind == state::error);
    CHECK(e.status == 400);
}

TEST_CASE("a chunked body over max_body is 413 when the chunk size says so") {
    parser_limits limits;
    limits.max_body = 10;
    const std::string head =
        request("POST / HTTP/1.1", "Host: h\r\nTransfer-Encoding: chunked\r\n");
    CHECK(status_of(head + "6\r\n123456\r\n4\r\n7890\r\n0\r\n\r\n", limits) == 0);
    request_parser p(limits);
    const outcome out = feed(p, head + "6\r\n123456\r\n5\r\n");
    CHECK(out.status == 413);
    CHECK(out.body == "123456");
}

TEST_CASE("trailers: bounded by max_header_section (431) and checked like fields (400)") {
    const std::string head =
        request("POST / HTTP/1.1", "Host: h\r\nTransfer-Encoding: chunked\r\n");
    parser_limits limits;
    limits.max_header_section = 40;  // the head's section is 39 bytes
    CHECK(status_of(head + "0\r\nX-T: " + std::string(20, 'v') + "\r\n\r\n", limits) == 0);
    CHECK(status_of(head + "0\r\nX-T: " + std::string(40, 'v') + "\r\n\r\n", limits) == 431);
    CHECK(status_of(head + "0\r\nX-T: v\r\n folded\r\n\r\n") == 400);
    CHECK(status_of(head + "0\r\nX-T : v\r\n\r\n") == 400);
    CHECK(status_of(head + "0\r\nX-T: a\x01\r\n\r\n") == 400);
}

TEST_CASE("keep_alive: HTTP/1.1 unless close, HTTP/1.0 only with keep-alive") {
    auto [version, connection, keep_alive] =
        GENERATE(table<std::string_view, std::string_view, bool>({
            {"1.1", "", true},
            {"1.1", "Connection: close\r\n", false},
            {"1.1", "Connection: CLOSE\r\n", false},
            {"1.1", "Connection: Upgrade, close\r\n", false},
            {"1.1", "Connection: keep-alive\r\n", true},
            {"1.1", "Connection: closed\r\n", true},
            {"1.1", "Connection: foo\r\nConnection: close\r\n", false},
            {"1.0", "", false},
            {"1.0", "Connection: keep-alive\r\n", true},
            {"1.0", "Connection: Keep-Alive\r\n", true},
            {"1.0", "Connection: te ,  keep-alive\r\n", true},
            {"1.0", "Connection: keep-alive, close\r\n", false},
            {"1.0", "Connection: keep-alive-ish\r\n", false},
        }));
    INFO("HTTP/" << version << " " << connection);
    request_parser p;
    const std::string wire =
        request("GET / HTTP/" + std::string(version), "Host: h\r\n" + std::string(connection));
    const request_head& h = head_of(p, wire);
    CHECK(h.keep_alive == keep_alive);
}

TEST_CASE("Expect: 100-continue sets expect_continue, in HTTP/1.1 only") {
    auto [version, expect, expected] = GENERATE(table<std::string_view, std::string_view, bool>({
        {"1.1", "Expect: 100-continue\r\n", true},
        {"1.1", "Expect: 100-Continue\r\n", true},
        {"1.1", "Expect:  100-continue \r\n", true},
        {"1.1", "", false},
        {"1.1", "Expect: 200-ok\r\n", false},
        {"1.1", "Expect: 100-continuex\r\n", false},
        {"1.0", "Expect: 100-continue\r\n", false},
    }));
    INFO("HTTP/" << version << " " << expect);
    request_parser p;
    const std::string wire = request("PUT / HTTP/" + std::string(version),
                                     "Host: h\r\nContent-Length: 1\r\n" + std::string(expect));
    const request_head& h = head_of(p, wire);
    CHECK(h.expect_continue == expected);
}

TEST_CASE("a request fed one byte at a time gives the same events and head as one at once") {
    const std::string wire = request(
        "PATCH http://example.com/a/b?c=d HTTP/1.1",
        "Host: example.com\r\nX-Spaces: \t x y \r\nConnection: close\r\nContent-Length: 5\r\n"
        "Expect: 100-continue\r\n",
        "12345");
    request_parser whole;
    const outcome all = feed(whole, wire);
    REQUIRE(all.complete);
    request_parser bytewise;
    const outcome each = feed(bytewise, wire, 1);
    CHECK(each.complete);
    CHECK(describe(bytewise.head()) == describe(whole.head()));
    CHECK(describe(whole.head()) ==
          "PATCH http://example.com/a/b?c=d [/a/b][c=d] 1.1|Host=example.com|X-Spaces=x "
          "y|Connection=close|Content-Length=5|Expect=100-continue cl=5 close continue");
    CHECK(each.body == "12345");
    CHECK(each.used == wire.size());
    // Five body_data of one byte each instead of one of five.
    CHECK(each.events.size() == all.events.size() + 4);
}

TEST_CASE("the head's views point into the input that completed it, wherever it moved") {
    const std::string wire = request("GET /moved?q=1 HTTP/1.1", "Host: h\r\nX-A: b\r\n");
    std::string first(wire.substr(0, 20));
    request_parser p;
    REQUIRE(p.parse(bytes(first)).kind == state::need_more);
    first.assign(first.size(), '#');  // the old buffer is overwritten: nothing may point there
    const std::string second = wire;  // the caller's buffer grew and moved
    const request_head& h = head_of(p, second);
    CHECK(h.target == "/moved?q=1");
    CHECK(points_into(second, h.target));
    CHECK(points_into(second, h.headers[1].value));
    CHECK(h.header("x-a") == "b");
}

TEST_CASE("bytes already scanned are not scanned again after need_more") {
    // The caller must pass the same bytes again; changing one shows whether it is re-read. A
    // control character there, reported at once when fresh, goes unnoticed once scanned.
    const std::string wire = request("GET / HTTP/1.1", "Host: h\r\nX: abc\r\n");
    const std::size_t partial = wire.find("abc") + 3;
    request_parser p;
    REQUIRE(p.parse(bytes(std::string_view(wire).substr(0, partial))).kind == state::need_more);
    std::string changed = wire;
    changed[partial - 2] = '\x01';
    CHECK(p.parse(bytes(changed)).kind == state::head_done);
    CHECK(status_of(changed) == 400);
}

TEST_CASE("pipelined requests in one buffer parse one after another with reset()") {
    const std::string first = request("GET /one HTTP/1.1");
    const std::string second =
        request("POST /two HTTP/1.1", "Host: h\r\nContent-Length: 3\r\n", "abc");
    const std::string third =
        request("POST /three HTTP/1.1", "Host: h\r\nTransfer-Encoding: chunked\r\n",
                "2\r\nxy\r\n0\r\n\r\n");
    const std::string fourth = request("HEAD /four HTTP/1.0", "");
    const std::string wire = first + second + third + fourth;
    request_parser p;
    std::string_view rest(wire);
    std::vector<std::string> targets, bodies;
    std::vector<std::size_t> ends;
    for (int i = 0; i < 4; ++i) {
        const outcome out = feed(p, rest);
        REQUIRE(out.complete);
        targets.emplace_back(p.head().target);
        bodies.push_back(out.body);
        rest.remove_prefix(out.used);
        ends.push_back(wire.size() - rest.size());
        p.reset();
    }
    CHECK(targets == std::vector<std::string>{"/one", "/two", "/three", "/four"});
    CHECK(bodies == std::vector<std::string>{"", "abc", "xy", ""});
    CHECK(ends == std::vector<std::size_t>{first.size(), first.size() + second.size(),
                                           first.size() + second.size() + third.size(),
                                           wire.size()});
    CHECK(p.parse(bytes(rest)).kind == state::need_more);
}

TEST_CASE("reset() clears the previous request's head") {
    request_parser p;
    REQUIRE(feed(p, request("POST /a?b HTTP/1.0", "Content-Length: 1\r\nConnection: keep-alive\r\n",
                            "x"))
                .complete);
    p.reset();
    const std::string wire = request("GET /c HTTP/1.1");
    const request_head& h = head_of(p, wire);
    CHECK(describe(h) == "GET /c [/c][] 1.1|Host=h cl=- keep-alive");
}

TEST_CASE("an error is repeated until reset(), and the parser works again after it") {
    request_parser p;
    const auto bad = p.parse(bytes("GET / HTTP/9.9\r\n"sv));
    REQUIRE(bad.kind == state::error);
    CHECK(bad.status == 505);
    CHECK_FALSE(bad.reason.empty());
    const std::string good = request("GET / HTTP/1.1");
    const auto again = p.parse(bytes(good));
    CHECK(again.kind == state::error);
    CHECK(again.status == 505);
    CHECK(again.reason == bad.reason);
    CHECK(again.consumed == 0);
    p.reset();
    CHECK(p.parse(bytes(good)).kind == state::head_done);
}

TEST_CASE("need_more consumes nothing and is repeated for the same bytes") {
    request_parser p;
    const std::string partial = "GET / HTTP/1.1\r\nHo";
    for (int i = 0; i < 3; ++i) {
        const auto e = p.parse(bytes(partial));
        CHECK(e.kind == state::need_more);
        CHECK(e.consumed == 0);
    }
    CHECK(p.parse(bytes(partial + "st: h\r\n\r\n")).kind == state::head_done);
}
