// SPDX-License-Identifier: MIT
// The list of compiled-in backends, and opening one by name.
#include <corio/backend.hpp>

#include "backend/backend.hpp"

#include <cstdlib>

namespace corio {

std::vector<std::string> available_backends() {
    std::vector<std::string> names{"epoll", "epoll-et", "poll", "select"};
#ifdef CORIO_HAS_KQUEUE
    names.emplace_back("kqueue");
#endif
    return names;
}

std::string default_backend_name() {
    if (const char* env = std::getenv("CORIO_BACKEND"); env && *env) {
        return env;
    }
    return "epoll";
}

namespace detail {

result<std::unique_ptr<backend>> open_backend(std::string_view name) {
    if (name.empty()) {
        return open_backend(default_backend_name());
    }
    if (name == "epoll") {
        return open_epoll(false);
    }
    if (name == "epoll-et") {
        return open_epoll(true);
    }
    if (name == "poll") {
        return open_poll();
    }
    if (name == "select") {
        return open_select();
    }
#ifdef CORIO_HAS_KQUEUE
    if (name == "kqueue") {
        return open_kqueue();
    }
#endif
    return errc::backend_unavailable;
}

}  // namespace detail
}  // namespace corio
