// SPDX-License-Identifier: MIT
// response: what a handler returns: a status, header fields and a body in memory or in a file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace corio::http {

/// The reason phrase of a status code ("OK", "Not Found"); "Unknown" for codes it lacks.
std::string_view reason_phrase(int status) noexcept;

/// A file to send as the body: the server owns `fd` from then on and sends `size` bytes of it,
/// read with corio::file so a cold file never blocks the loop (fd must support pread).
struct file_body {
    int fd = -1;
    std::uint64_t size = 0;
};

/// An HTTP response. Framed by Content-Length unless `chunked` is set; Date, Server, Content-Length,
/// Transfer-Encoding and Connection are the server's to write. Move-only (a file it holds is closed
/// with it).
class response {
public:
    response() = default;
    /// A response with a body in memory. Throws usage_error for a status outside 100..599, or
    /// CR, LF or NUL in the content type.
    explicit response(int status, std::string body = {},
                      std::string_view content_type = "text/plain; charset=utf-8");
    response(response&& o) noexcept;
    response& operator=(response&& o) noexcept;
    response(const response&) = delete;
    response& operator=(const response&) = delete;
    ~response();

    int status() const noexcept { return status_; }
    /// Adds a header field (Content-Type replaces the one set before). Throws usage_error when
    /// the name is not a token or either part holds CR, LF or NUL (a response-splitting bug in
    /// the caller), or for a field the server writes.
    response& header(std::string_view name, std::string_view value);
    /// Replaces the Content-Type ("" for none). Throws usage_error for CR, LF or NUL in it.
    response& content_type(std::string_view type);
    /// Sends the body with chunked transfer coding (HTTP/1.1 peers only; a 1.0 peer gets the
    /// same body framed by Content-Length).
    response& chunked(bool on = true) noexcept {
        chunked_ = on;
        return *this;
    }
    /// Replaces the body with `f` (closed with the response if it is never sent).
    response& file(file_body f) noexcept;

    /// The Content-Type value; empty when there is none.
    std::string_view content_type() const noexcept {
        return type_size_ <= inline_type ? std::string_view(type_, type_size_) : long_type_;
    }
    /// The other header fields, as "Name: value\r\n" lines.
    const std::string& fields() const noexcept { return fields_; }
    std::string& body() noexcept { return body_; }
    const std::string& body() const noexcept { return body_; }
    bool is_chunked() const noexcept { return chunked_; }
    const file_body& file() const noexcept { return file_; }
    /// Hands the file over (the caller closes it); the response then has none.
    file_body release_file() noexcept;

private:
    // Nearly every response has a Content-Type, and nearly all fit here: no allocation for it.
    static constexpr std::size_t inline_type = 46;

    int status_ = 200;
    bool chunked_ = false;
    std::uint8_t type_size_ = 0;  // over inline_type: the type is in long_type_
    char type_[inline_type] = {};
    std::string long_type_;
    std::string fields_;  // "Name: value\r\n" lines, validated
    std::string body_;
    file_body file_;
};

}  // namespace corio::http
