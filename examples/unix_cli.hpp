// SPDX-License-Identifier: MIT
// The Unix socket examples' command line: --path (a file system path, or '@name' for an
// abstract socket) and the flags every example shares.
#pragma once

#include <corio/net/unix_address.hpp>

#include "cli.hpp"

#include <fmt/format.h>

#include <string>
#include <utility>

namespace cli {

/// What a Unix socket example's command line asks for.
struct unix_command {
    corio::net::unix_address at;  ///< --path
    corio::runtime rt;            ///< on --backend (default: CORIO_BACKEND or the best one)
};

/// Parses --path and the shared flags. --help exits 0; a missing, too-long or invalid
/// --path, an unknown backend or any other argument exits 2.
inline unix_command parse_unix_command(int argc, char** argv, const char* usage) {
    std::string path, backend;
    args a(argc, argv, usage);
    while (a.next()) {
        if (a.common(backend)) {
        } else if (a.is("--path")) {
            path = a.value();
        } else {
            a.unknown();
        }
    }
    if (path.empty()) {
        a.fail("--path is required");
    }
    auto at = path[0] == '@' ? corio::net::unix_address::from_abstract(path.substr(1))
                             : corio::net::unix_address::from_path(path);
    if (!at) {
        a.fail(fmt::format("--path '{}': {}", path, at.error().message()));
    }
    return {std::move(*at), a.runtime(backend)};
}

}  // namespace cli
