// SPDX-License-Identifier: MIT
// temp_dir, cold files, open_or_fail: what the tests of corio::file and static_files need on disk.
#pragma once

#include <corio/file.hpp>
#include <corio/task.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace corio_test {

/// A fresh directory under /tmp, removed with what it holds.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        char dir[] = "/tmp/corio-files-XXXXXX";
        REQUIRE(::mkdtemp(dir));
        path = dir;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::filesystem::path operator/(const char* name) const { return path / name; }
};

/// Bytes that differ at every offset (so a read at the wrong offset shows).
inline std::vector<std::byte> pattern(std::size_t n, unsigned seed = 1) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<std::byte>((i * 31 + seed * 7 + i / 251) & 0xff);
    }
    return v;
}

/// Creates or replaces `p` with `data`, with plain blocking calls (the test's own setup).
inline void write_plain(const std::filesystem::path& p, std::span<const std::byte> data) {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    ::close(fd);
}

/// Drops the file's pages from the page cache, so a read of it must wait for the disk: true if
/// mincore(2) then finds none of them resident (a RWF_NOWAIT probe would start a readahead and
/// so warm what it tests). Callers WARN and skip where it cannot (tmpfs keeps pages in memory).
inline bool make_cold(const std::filesystem::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    ::fsync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    const auto len = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    REQUIRE(map != MAP_FAILED);
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> resident((len + page - 1) / page);
    const bool known = ::mincore(map, len, resident.data()) == 0;
    ::munmap(map, len);
    return known && std::none_of(resident.begin(), resident.end(), [](unsigned char r) { return r & 1; });
}

/// A string's bytes, as the file calls take them.
inline std::span<const std::byte> bytes_of(const std::string& s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

/// file::open that throws (failing the test) instead of returning the error.
inline corio::task<corio::file> open_or_fail(const std::filesystem::path& p, corio::open_flags flags) {
    auto f = co_await corio::file::open(p, flags);
    if (!f) {
        throw std::runtime_error("open " + p.string() + ": " + f.error().message());
    }
    co_return std::move(*f);
}

}  // namespace corio_test
