// SPDX-License-Identifier: MIT
// event_text: a file_event as "kind name" ("renamed a -> b", "created sub/"), for comparisons.
#pragma once

#include <corio/file_watcher.hpp>

#include <string>

namespace corio_test {

/// The kind, then the entry's file name ("from -> to" for a rename), "/" after a directory.
/// Built with append: g++ 12 -O3 warns falsely (-Wrestrict) about "literal" + std::string.
inline std::string event_text(const corio::file_event& e) {
    std::string s(corio::to_string(e.kind));
    if (!e.from_path.empty()) {
        s.append(" ").append(e.from_path.filename().string()).append(" ->");
    }
    if (!e.path.empty()) {
        s.append(" ").append(e.path.filename().string());
    }
    if (e.is_directory) {
        s.append("/");
    }
    return s;
}

}  // namespace corio_test
