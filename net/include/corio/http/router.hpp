// SPDX-License-Identifier: MIT
// router: picks the handler for a request by method and exact path.
#pragma once

#include <corio/http/request.hpp>
#include <corio/http/response.hpp>
#include <corio/task.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace corio::http {

/// A request handler: a coroutine that returns the response. An exception escaping it is
/// answered 500 (and the connection stays usable).
using handler = std::function<task<response>(const request&)>;

/// Maps (method, path) to handlers; an unknown path gets 404, a known path with another method
/// 405 with Allow. Configure it before serving: lookups are not synchronised with changes.
class router {
public:
    /// Routes `verb` on exactly `path` (percent-encoded as sent, without the query).
    /// Throws usage_error when the pair is already routed or the path does not start with '/'.
    router& route(method verb, std::string path, handler h);
    /// What answers GET and HEAD for paths no route matches (e.g. static files); else 404.
    router& fallback(handler h);

    /// The handler for `verb` on `path`, or nullptr (then `allow` lists the methods routed on
    /// that path, comma-separated, or is empty if the path is unknown).
    const handler* find(method verb, std::string_view path, std::string& allow) const;

private:
    struct entry {
        method verb;
        std::string path;
        handler h;
    };
    std::vector<entry> routes_;  // few routes: a scan beats hashing at this size
    handler fallback_;
};

}  // namespace corio::http
