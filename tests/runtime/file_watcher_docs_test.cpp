// SPDX-License-Identifier: MIT
// The program docs/file-watcher.md shows, compiled and run: logging a directory's changes.
#include <corio/file_watcher.hpp>

#include <catch2/catch.hpp>

#include "support/temp_dir.hpp"

#include <corio/runtime.hpp>
#include <corio/task.hpp>
#include <corio/when_all.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <stdio.h>

namespace {

// docs/file-watcher.md, "Watching a directory".
corio::task<corio::result<void>> log_changes(const std::filesystem::path& dir, int count,
                                             std::FILE* out) {
    auto watcher = corio::file_watcher::open();
    if (!watcher) {
        co_return watcher.error();
    }
    if (auto id = watcher->add(dir); !id) {
        co_return id.error();  // ENOENT, EACCES, watch_errc::limit_reached...
    }
    for (int i = 0; i < count; ++i) {
        auto e = co_await watcher->next();  // waits in the loop, like a socket read
        if (!e) {
            co_return e.error();
        }
        if (e->kind == corio::file_event_kind::overflow) {
            std::fprintf(out, "events were lost: rescan %s\n", dir.c_str());
        } else if (e->kind == corio::file_event_kind::renamed) {
            std::fprintf(out, "renamed %s -> %s\n", e->from_path.filename().c_str(),
                         e->path.filename().c_str());
        } else {
            std::fprintf(out, "%s %s\n", std::string(corio::to_string(e->kind)).c_str(),
                         e->path.filename().c_str());
        }
    }
    co_return corio::result<void>{};
}

TEST_CASE("docs/file-watcher.md: log_changes logs a create, a rename and a delete") {
    corio_test::temp_dir tmp;
    const std::filesystem::path& dir = tmp.path();
    char* text = nullptr;
    std::size_t size = 0;
    std::FILE* out = ::open_memstream(&text, &size);
    REQUIRE(out != nullptr);
    corio::runtime rt;
    auto [logged, done] = rt.block_on(corio::when_all(
        log_changes(dir, 3, out),  // parks in next() before the second task starts
        [](const std::filesystem::path& dir) -> corio::task<void> {
            std::ofstream(dir / "a.txt") << "hello";  // created, then modified
            std::filesystem::rename(dir / "a.txt", dir / "b.txt");
            co_return;
        }(dir)));
    (void)done;
    std::fclose(out);
    const std::string log(text, size);
    std::free(text);
    CHECK(logged);
    CHECK(log == "created a.txt\nmodified a.txt\nrenamed a.txt -> b.txt\n");
}

}  // namespace
