// SPDX-License-Identifier: MIT
// The list of compiled-in backends, and opening one by name.
#include <corio/backend.hpp>

#include "backend/backend.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace corio {

std::vector<std::string> available_backends() {
    std::vector<std::string> names{"epoll", "epoll-et", "poll", "select"};
#ifdef CORIO_HAS_KQUEUE
    names.emplace_back("kqueue");
#endif
#ifdef CORIO_HAS_IO_URING
    names.emplace_back("io_uring");
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
namespace {
#ifdef CORIO_HAS_IO_URING
// io_uring may be compiled in yet absent or disabled at run time (old kernel, seccomp,
// kernel.io_uring_disabled): run on epoll then, and say so once per process.
result<std::unique_ptr<backend>> open_io_uring_or_epoll(const reactor_options& options) {
    std::string why;
    auto b = open_io_uring(why, options.io_uring_entries);
    if (b) {
        return b;
    }
    static std::atomic<bool> told{false};
    if (!told.exchange(true)) {
        fmt::print(stderr, "corio: io_uring unavailable ({}); using epoll instead\n", why);
    }
    return open_epoll(false);
}
#endif
}  // namespace

result<std::unique_ptr<backend>> open_backend(std::string_view name, const reactor_options& options) {
    if (name.empty()) {
        return open_backend(default_backend_name(), options);
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
#ifdef CORIO_HAS_IO_URING
    if (name == "io_uring") {
        return open_io_uring_or_epoll(options);
    }
#endif
    return errc::backend_unavailable;
}

}  // namespace detail
}  // namespace corio
