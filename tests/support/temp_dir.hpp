// SPDX-License-Identifier: MIT
// temp_dir: a fresh directory under TMPDIR (mkdtemp), removed with its contents at the end.
#pragma once

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include <stdlib.h>

namespace corio_test {

/// A directory of its own for one test; throws std::system_error if mkdtemp fails.
class temp_dir {
public:
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "corio-test-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            throw std::system_error(errno, std::system_category(), "mkdtemp");
        }
        path_ = tmpl;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    const std::filesystem::path& path() const noexcept { return path_; }
    std::filesystem::path operator/(const char* name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

/// Appends `text` to the file at `p`, creating it if need be.
inline void append_text(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p, std::ios::app) << text;
}

}  // namespace corio_test
