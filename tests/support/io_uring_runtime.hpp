// SPDX-License-Identifier: MIT
// io_uring_runtime_or_skip: a runtime on the io_uring backend whatever CORIO_BACKEND says, or
// null (with a WARN) where it is not built or the kernel refuses it.
#pragma once

#include <corio/backend.hpp>
#include <corio/runtime.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <utility>

namespace corio_test {

inline bool io_uring_built() {
    const auto names = corio::available_backends();
    return std::find(names.begin(), names.end(), "io_uring") != names.end();
}

/// `options` with its backend set to io_uring.
inline std::unique_ptr<corio::runtime> io_uring_runtime_or_skip(corio::runtime_options options = {}) {
    if (!io_uring_built()) {
        WARN("the io_uring backend is not built (liburing missing): skipped");
        return nullptr;
    }
    options.backend = "io_uring";
    auto rt = std::make_unique<corio::runtime>(std::move(options));
    if (rt->backend_name() != "io_uring") {
        WARN("io_uring is unavailable on this kernel (fell back to " << rt->backend_name()
                                                                     << "): skipped");
        return nullptr;
    }
    return rt;
}

}  // namespace corio_test
