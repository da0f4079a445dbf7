// SPDX-License-Identifier: MIT
// The programs docs/files.md shows, compiled and run: counting lines, saving and loading settings.
#include <corio/file.hpp>

#include <catch2/catch.hpp>

#include <corio/runtime.hpp>
#include <corio/task.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

// docs/files.md, from here to the end of load_settings.

// Counts the lines of a file of any size, 64 KiB at a time, without blocking the loop.
corio::task<corio::result<std::size_t>> count_lines(std::filesystem::path path) {
    auto f = co_await corio::file::open(std::move(path));
    if (!f) {
        co_return f.error();  // ENOENT, EACCES...
    }
    std::vector<std::byte> buf(64 * 1024);
    std::uint64_t offset = 0;
    std::size_t lines = 0;
    for (;;) {
        auto n = co_await f->read_at(offset, buf);
        if (!n) {
            co_return n.error();
        }
        if (*n == 0) {
            co_return lines;  // 0: the end of the file
        }
        lines += static_cast<std::size_t>(std::count(buf.begin(), buf.begin() + *n, std::byte{'\n'}));
        offset += *n;
    }
}

// Saves settings so that a crash leaves the old file or the new one, never a mix.
corio::task<corio::result<void>> save_settings(std::filesystem::path path, std::string text) {
    co_return co_await corio::write_file(std::move(path), text, {.atomic = true, .sync = true});
}

// Loads them back, refusing a file that grew absurdly large rather than running out of memory.
corio::task<corio::result<std::string>> load_settings(std::filesystem::path path) {
    co_return co_await corio::read_file(std::move(path), {.max_size = 1 << 20});
}

// End of the docs/files.md snippets.

TEST_CASE("the docs/files.md snippets save, load and count as shown") {
    char dir[] = "/tmp/corio-files-docs-XXXXXX";
    REQUIRE(::mkdtemp(dir));
    const std::filesystem::path settings = std::filesystem::path(dir) / "settings.conf";
    std::string text;
    for (int i = 0; i < 20000; ++i) {  // about 300 KiB: several 64 KiB reads
        text += "key" + std::to_string(i) + " = value\n";
    }
    corio::runtime rt;
    const auto saved = rt.block_on(save_settings(settings, text));
    CHECK(saved);
    const auto loaded = rt.block_on(load_settings(settings));
    CHECK(loaded.value_or("") == text);
    const auto lines = rt.block_on(count_lines(settings));
    CHECK(lines.value_or(0) == 20000);
    const auto missing = rt.block_on(count_lines(std::filesystem::path(dir) / "missing"));
    CHECK(missing.error() == std::errc::no_such_file_or_directory);
    std::filesystem::remove_all(dir);
}

}  // namespace
