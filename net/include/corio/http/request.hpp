// SPDX-License-Identifier: MIT
// request: one parsed HTTP request as a handler sees it: method, target, fields and body.
#pragma once

#include <corio/http/parser.hpp>
#include <corio/net/address.hpp>

#include <optional>
#include <span>
#include <string_view>

namespace corio::http {

/// A complete request, given to a handler by reference. Views into the connection's buffers:
/// valid until the handler's task finishes, so copy what must outlive it.
struct request {
    method verb = method::get;
    std::string_view target;  ///< as sent: "/a%20b?x=1"
    std::string_view path;    ///< target before '?', still percent-encoded
    std::string_view query;   ///< after '?', without it
    int version_minor = 1;
    std::span<const header_field> headers;
    std::string_view body;  ///< de-chunked, at most parser_limits::max_body bytes
    net::endpoint remote;

    /// The first field called `name` (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const noexcept;
};

/// Whether two field names are equal ignoring ASCII case.
bool field_name_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace corio::http
