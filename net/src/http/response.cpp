// SPDX-License-Identifier: MIT
// response: validated header fields, reason phrases, and request field lookup.
#include <corio/error.hpp>
#include <corio/http/request.hpp>
#include <corio/http/response.hpp>

#include "http/parser_text.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include <unistd.h>

namespace corio::http {
namespace {

// The parser's token rule (RFC 9110 §5.6.2), so a handler can send any name a client may.
bool is_token(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), parser_text::is_tchar);
}

// A value that cannot split the response: no CR, LF or NUL (a loop, not find_first_of, which
// calls memchr once per byte).
bool is_field_value(std::string_view s) noexcept {
    return std::none_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// Fields the server computes itself; a handler setting them would contradict the framing.
bool server_owned(std::string_view name) noexcept {
    for (std::string_view owned :
         {"Content-Length", "Transfer-Encoding", "Connection", "Date", "Server"}) {
        if (field_name_equal(name, owned)) {
            return true;
        }
    }
    return false;
}

}  // namespace

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 202: return "Accepted";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

response::response(int status, std::string body, std::string_view content_type)
    : status_(status), body_(std::move(body)) {
    if (status < 100 || status > 599) {
        throw usage_error("corio::http::response: status must be 100..599");
    }
    this->content_type(content_type);
}

response::response(response&& o) noexcept
    : status_(o.status_),
      chunked_(o.chunked_),
      type_size_(o.type_size_),
      long_type_(std::move(o.long_type_)),
      fields_(std::move(o.fields_)),
      body_(std::move(o.body_)),
      file_(o.release_file()) {
    std::memcpy(type_, o.type_, sizeof type_);
}

response& response::operator=(response&& o) noexcept {
    if (this != &o) {
        if (file_.fd >= 0) {
            ::close(file_.fd);
        }
        status_ = o.status_;
        chunked_ = o.chunked_;
        type_size_ = o.type_size_;
        std::memcpy(type_, o.type_, sizeof type_);
        long_type_ = std::move(o.long_type_);
        fields_ = std::move(o.fields_);
        body_ = std::move(o.body_);
        file_ = o.release_file();
    }
    return *this;
}

response::~response() {
    if (file_.fd >= 0) {
        ::close(file_.fd);
    }
}

response& response::header(std::string_view name, std::string_view value) {
    if (!is_token(name)) {
        throw usage_error("corio::http::response: header name is not a token");
    }
    if (!is_field_value(value)) {
        throw usage_error("corio::http::response: CR, LF or NUL in a header value");
    }
    if (server_owned(name)) {
        throw usage_error("corio::http::response: the server writes " + std::string(name));
    }
    if (field_name_equal(name, "Content-Type")) {
        return content_type(value);
    }
    fields_.append(name).append(": ").append(value).append("\r\n");
    return *this;
}

response& response::content_type(std::string_view type) {
    if (!is_field_value(type)) {
        throw usage_error("corio::http::response: CR, LF or NUL in the content type");
    }
    if (type.size() <= inline_type) {
        if (!type.empty()) {  // an empty view may hold a null pointer, which memcpy must not get
            std::memcpy(type_, type.data(), type.size());
        }
        type_size_ = static_cast<std::uint8_t>(type.size());
        long_type_.clear();
    } else {
        long_type_.assign(type);
        type_size_ = inline_type + 1;
    }
    return *this;
}

response& response::file(file_body f) noexcept {
    if (file_.fd >= 0) {
        ::close(file_.fd);
    }
    file_ = f;
    body_.clear();
    return *this;
}

file_body response::release_file() noexcept { return std::exchange(file_, file_body{}); }

bool field_name_equal(std::string_view a, std::string_view b) noexcept {
    return parser_text::iequals(a, b);
}

std::optional<std::string_view> request::header(std::string_view name) const noexcept {
    return parser_text::find_field(headers, name);
}

}  // namespace corio::http
