// SPDX-License-Identifier: MIT
// Uses an installed corio's public API, to prove that its headers and libraries are usable.
#include <corio/result.hpp>

#include <cstdio>

int main() {
    // corio::errc's category lives in libcorio_runtime, so this also proves the link line.
    const corio::result<int> r = corio::errc::closed;
    if (r || r.error() != corio::errc::closed) {
        std::fprintf(stderr, "consumer: expected corio::errc::closed, got %s\n",
                     r.error().message().c_str());
        return 1;
    }
    std::printf("consumer: %s: %s\n", r.error().category().name(), r.error().message().c_str());
    return 0;
}
