// SPDX-License-Identifier: MIT
// request_parser: an incremental HTTP/1.1 request parser (RFC 9110/9112) that allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace corio::http {

/// The request methods corio routes; any other token is answered 501.
enum class method : std::uint8_t { get, head, post, put, delete_, options, patch, trace, connect };

/// The method's name as sent on the wire ("GET", "DELETE", ...).
std::string_view to_string(method m) noexcept;

/// One field line of a request head, as views into the bytes the head was parsed from.
/// Trailer fields are checked but not kept.
struct header_field {
    std::string_view name;   ///< as received (compare case-insensitively)
    std::string_view value;  ///< leading and trailing whitespace removed
};

/// What a parser accepts; a request beyond a limit is rejected with the status noted.
struct parser_limits {
    std::size_t max_request_line = 8 * 1024;     ///< 414 beyond
    std::size_t max_header_section = 64 * 1024;  ///< 431 beyond (request line excluded)
    std::size_t max_headers = 128;               ///< 431 beyond
    std::uint64_t max_body = 1024 * 1024;        ///< 413 beyond (declared or chunked total)
};

/// A request's head. Every view points into the bytes given to request_parser::parse, so it
/// stays valid only while the caller keeps those bytes where they were.
struct request_head {
    method verb = method::get;
    std::string_view target;  ///< request-target as sent: "/path?query"
    std::string_view path;    ///< target up to '?', not yet percent-decoded
    std::string_view query;   ///< after '?', without it; empty if none
    int version_minor = 1;    ///< HTTP/1.0 or HTTP/1.1
    std::span<const header_field> headers;
    std::optional<std::uint64_t> content_length;  ///< the validated Content-Length, if any
    bool chunked = false;          ///< Transfer-Encoding: chunked
    bool keep_alive = true;        ///< 1.1 unless "Connection: close"; 1.0 only with keep-alive
    bool expect_continue = false;  ///< "Expect: 100-continue"

    /// The first field called `name` (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const noexcept;
};

/// Parses requests one after another from a connection's unread bytes. parse() is given the
/// bytes not yet consumed (the same bytes again, plus more, after need_more) and remembers
/// where it stopped, so no byte is scanned twice and a request may arrive one byte at a time.
/// Headers are kept in a fixed array: nothing is allocated, ever.
///
/// The events one request produces, one parse() call each (need_more, consumed 0, may come
/// before any of them when the bytes run out; the caller then calls again with more):
///   no body (neither Content-Length nor Transfer-Encoding, or Content-Length: 0):
///       head_done (consumed = the head) → message_done (consumed 0, even on empty input)
///   Content-Length n, arriving in pieces:
///       head_done → body_data (consumed = body.size(), the whole piece available, at most
///       what is left of n) ... → message_done (consumed 0)
///   Transfer-Encoding: chunked:
///       head_done → body_data (consumed = the chunk framing before the piece plus the piece;
///       body is its last body.size() bytes) ... → message_done (consumed = the CRLF after the
///       last chunk's data, the last chunk "0\r\n", the trailer fields and the final CRLF)
///   a rejected request, at any point: error (consumed 0).
/// error and message_done are sticky: every later parse() repeats them (consumed 0) until
/// reset(). Bytes past the current request are left unconsumed for the next one (pipelining).
///
/// Lines end with CRLF; a bare LF is accepted in the request line and header fields
/// (RFC 9112 §2.2) but not in chunked framing or trailers, where CRLF is required; a CR not
/// followed by LF is rejected anywhere. Empty lines before a request line are skipped; they count
/// toward max_request_line. The request-target is origin-form ("/p?q"), "*" (OPTIONS only) or
/// absolute-form ("http://host/p?q", path "/" when it has none: a view of the scheme's '/');
/// CONNECT and its authority-form are rejected with 400, so head().path always starts with '/'
/// or is "*". Transfer-Encoding must be exactly "chunked", once (anything else, or any
/// Transfer-Encoding in an HTTP/1.0 request → 400). Expect: 100-continue counts in HTTP/1.1
/// only (RFC 9110 §10.1.1). At most min(max_headers, 128) fields are kept (431 beyond).
/// head()'s views point into the bytes the head was parsed from: keep them in place (even after
/// head_done consumed them) until reset() or until the head is no longer used.
class request_parser {
public:
    /// What one parse() step produced; the class comment lists the sequences a request gives.
    /// After every kind the caller drops `consumed` bytes (need_more and error never consume).
    enum class state : std::uint8_t {
        need_more,     ///< consumed nothing yet: call again with these bytes and more
        head_done,     ///< head() is ready; `consumed` bytes were its request line and fields
        body_data,     ///< `body` is a piece of the body (already de-chunked); `consumed` covers it
        message_done,  ///< the request is complete (after any body and trailers); call reset()
        error,         ///< bad request: answer `status` and close the connection
    };
    /// One parse() step's result: how many input bytes it used and, per kind, the body piece
    /// or the error's status and reason (static strings, valid for the program's life).
    struct event {
        state kind = state::need_more;
        std::size_t consumed = 0;      ///< bytes of the input this step used up
        std::span<const char> body;    ///< body_data only: points into the input
        int status = 0;                ///< error only: 400, 413, 414, 431, 501 or 505
        std::string_view reason;       ///< error only: a short reason for logs and the reply
    };

    explicit request_parser(parser_limits limits = {}) noexcept;

    /// One step over `input` (the unconsumed bytes, starting where the previous step's
    /// `consumed` ended). Rejections: a line longer than the limits, Content-Length together
    /// with Transfer-Encoding, conflicting or malformed Content-Length, a Transfer-Encoding
    /// other than chunked, bad chunk sizes, obs-fold, whitespace before a field's colon,
    /// control characters, a missing Host in 1.1 → 400; request line > max_request_line → 414;
    /// header section > max_header_section or too many fields → 431; body > max_body → 413;
    /// unknown method → 501; version other than 1.0/1.1 → 505.
    event parse(std::span<const char> input) noexcept;

    /// The head of the current request (valid from head_done until reset()).
    const request_head& head() const noexcept { return head_; }
    /// Prepares for the next request on the same connection.
    void reset() noexcept;

private:
    static constexpr std::size_t max_fields = 128;

    enum class phase : std::uint8_t {
        request_line,
        fields,
        fixed_body,
        chunk_size,
        chunk_data,
        chunk_data_end,
        trailers,
        done,
        failed
    };
    // Offsets, not views, while the head is incomplete: between need_more calls the caller may
    // move its buffer, so views are made only from the input that completes the head.
    struct slice {
        std::size_t at = 0;
        std::size_t size = 0;
    };
    struct field_slices {
        slice name;
        slice value;
    };
    // Everything one request changes; reset() restores it as a whole.
    struct progress {
        phase at = phase::request_line;
        std::size_t scanned = 0;        // input offset where scanning resumes: nothing is rescanned
        std::size_t line_start = 0;     // input offset of the line being scanned
        std::size_t section_start = 0;  // input offset of the header or trailer section
        std::uint64_t remaining = 0;    // body bytes left: Content-Length, or the current chunk
        std::uint64_t body_seen = 0;    // chunk sizes declared so far (checked against max_body)
        std::size_t field_count = 0;
        slice target, path, query;
        std::uint8_t host_count = 0;
        bool transfer_encoding = false;
        bool close_token = false;
        bool keep_alive_token = false;
        bool expect_continue = false;
        int status = 0;  // failed only
        std::string_view reason;
    };
    enum class scan : std::uint8_t { complete, partial, invalid, too_long };
    struct line_scan {
        scan kind = scan::partial;
        std::size_t begin = 0;  // offsets in the input: the line's content is [begin, end)
        std::size_t end = 0;
        std::size_t next = 0;  // first byte after the line ending
        std::string_view why;  // invalid only
    };
    using step = std::optional<event>;  // nullopt: the phase moved on, keep going

    static slice slice_in(std::span<const char> in, std::string_view part) noexcept;
    static line_scan scan_verdict(scan kind, std::string_view why = {}) noexcept;
    line_scan scan_line(std::span<const char> in, std::size_t content_limit,
                        std::size_t ending_limit, bool crlf_only) noexcept;
    // A line scan's verdict as a step: need_more, a rejection (a line too long is answered
    // too_long_status), or nullopt when the line is complete.
    step line_verdict(const line_scan& line, int too_long_status,
                      std::string_view too_long_reason) noexcept;
    void start_line(std::size_t at) noexcept;
    step on_request_line(std::span<const char> in) noexcept;
    step parse_request_line(std::span<const char> in, const line_scan& line) noexcept;
    step set_target(std::span<const char> in, std::string_view target) noexcept;
    step on_field_line(std::span<const char> in) noexcept;
    step apply_field(std::string_view name, std::string_view value) noexcept;
    step apply_content_length(std::string_view value) noexcept;
    step finish_head(std::span<const char> in, std::size_t head_size) noexcept;
    event on_fixed_body(std::span<const char> in) noexcept;
    step on_chunk_size(std::span<const char> in) noexcept;
    event on_chunk_data(std::span<const char> in) noexcept;
    step on_chunk_data_end(std::span<const char> in) noexcept;
    step on_trailer_line(std::span<const char> in) noexcept;
    event fail(int status, std::string_view reason) noexcept;
    event failure() const noexcept;

    // The small, per-request state first, in the parser's first cache lines; the 8 KiB of field
    // arrays after it are touched only as far as a request has fields.
    parser_limits limits_;
    request_head head_;
    progress p_;
    header_field fields_[max_fields];
    field_slices slices_[max_fields];
};

}  // namespace corio::http
