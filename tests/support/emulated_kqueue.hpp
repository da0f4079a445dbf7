// SPDX-License-Identifier: MIT
// on_emulated_kqueue: whether this run tests the kqueue backend through libkqueue on Linux.
#pragma once

#include <cstdlib>
#include <string_view>

namespace corio_test {

/// True when CORIO_BACKEND is kqueue on Linux, i.e. libkqueue's emulation. A few tests skip
/// there (with a WARN naming the emulation's defect): docs/backends.md lists them. On BSD and
/// macOS the real kqueue runs every test.
inline bool on_emulated_kqueue() noexcept {
#ifdef __linux__
    const char* backend = std::getenv("CORIO_BACKEND");
    return backend && std::string_view(backend) == "kqueue";
#else
    return false;
#endif
}

}  // namespace corio_test
