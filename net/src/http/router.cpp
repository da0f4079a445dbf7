// SPDX-License-Identifier: MIT
// router: exact-path routing with 404/405 decisions.
#include <corio/error.hpp>
#include <corio/http/router.hpp>

namespace corio::http {
namespace {

// Appends `name` to an Allow list unless it is there already (GET brings HEAD, which may also
// have a route of its own).
void add_allowed(std::string& allow, std::string_view name) {
    std::string_view rest = allow;
    while (!rest.empty()) {
        const std::size_t comma = rest.find(", ");
        if (rest.substr(0, comma) == name) {
            return;
        }
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 2);
    }
    if (!allow.empty()) {
        allow += ", ";
    }
    allow += name;
}

}  // namespace

router& router::route(method verb, std::string path, handler h) {
    if (path.empty() || path.front() != '/') {
        throw usage_error("corio::http::router: a path must start with '/'");
    }
    for (const entry& e : routes_) {
        if (e.verb == verb && e.path == path) {
            throw usage_error("corio::http::router: " + std::string(to_string(verb)) + " " + path +
                              " is already routed");
        }
    }
    routes_.push_back({verb, std::move(path), std::move(h)});
    return *this;
}

router& router::fallback(handler h) {
    fallback_ = std::move(h);
    return *this;
}

const handler* router::find(method verb, std::string_view path, std::string& allow) const {
    allow.clear();
    for (const entry& e : routes_) {
        if (e.path != path) {
            continue;
        }
        // A GET route answers HEAD too: the server drops the body.
        if (e.verb == verb || (verb == method::head && e.verb == method::get)) {
            return &e.h;
        }
        add_allowed(allow, to_string(e.verb));
        if (e.verb == method::get) {
            add_allowed(allow, "HEAD");
        }
    }
    if (allow.empty() && fallback_ && (verb == method::get || verb == method::head)) {
        return &fallback_;
    }
    if (allow.empty() && fallback_) {
        allow = "GET, HEAD";  // the fallback's methods: a POST to a static file is 405
    }
    return nullptr;
}

}  // namespace corio::http
