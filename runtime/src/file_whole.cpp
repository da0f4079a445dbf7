// SPDX-License-Identifier: MIT
// read_file and write_file: whole files through corio::file, so they take its paths (native
// io_uring operations, the page cache on the loop, the blocking pool) without code of their own.
#include <corio/file.hpp>

#include <corio/error.hpp>
#include <corio/spawn_blocking.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace corio {
namespace {

const std::error_code too_large = std::make_error_code(std::errc::file_too_large);

std::span<std::byte> writable(std::string& s, std::size_t from) noexcept {
    return {reinterpret_cast<std::byte*>(s.data()) + from, s.size() - from};
}

// A name for the temporary file next to `path` that no other writer (thread or process) picks:
// the pid, a per-process count and the clock; O_EXCL catches the rest.
std::filesystem::path temporary_for(const std::filesystem::path& path) {
    static std::atomic<unsigned> count{0};
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    char suffix[80];
    std::snprintf(suffix, sizeof suffix, ".tmp-%d-%u-%llx", static_cast<int>(::getpid()),
                  count.fetch_add(1, std::memory_order_relaxed),
                  static_cast<unsigned long long>(now));
    std::filesystem::path tmp = path;
    tmp += suffix;
    return tmp;
}

result<void> rename_and_sync(const std::filesystem::path& from, const std::filesystem::path& to,
                             bool sync_dir) {
    if (::rename(from.c_str(), to.c_str()) != 0) {
        return std::error_code(errno, std::system_category());
    }
    if (!sync_dir) {
        return {};
    }
    // The rename lasts across a crash only once the directory holding it reaches the disk.
    const std::filesystem::path dir = to.has_parent_path() ? to.parent_path() : ".";
    const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) {
        return std::error_code(errno, std::system_category());
    }
    result<void> r;
    if (::fsync(d) != 0) {
        r = std::error_code(errno, std::system_category());
    }
    ::close(d);
    return r;
}

}  // namespace

task<result<std::string>> read_file(std::filesystem::path path, read_file_options options,
                                    std::stop_token token) {
    auto f = co_await file::open(std::move(path), open_flags::read, 0, token);
    if (!f) {
        co_return f.error();
    }
    auto size = f->size();
    if (!size) {
        co_return size.error();
    }
    if (*size > options.max_size) {
        co_return too_large;
    }
    // One byte past the size, so a file that did not grow ends with a read of 0 into it; files
    // that report no size (/proc) grow the buffer as they are read.
    std::string out(static_cast<std::size_t>(*size) + 1, '\0');
    std::size_t len = 0;
    for (;;) {
        if (len == out.size()) {
            if (len > options.max_size) {
                co_return too_large;
            }
            const std::uint64_t want = std::max<std::uint64_t>(len * 2, 4096);
            out.resize(static_cast<std::size_t>(std::min(want, options.max_size + 1)));
        }
        auto n = co_await f->read_at(len, writable(out, len), token);
        if (!n) {
            co_return n.error();
        }
        if (*n == 0) {
            break;
        }
        len += *n;
    }
    if (len > options.max_size) {
        co_return too_large;
    }
    out.resize(len);
    co_return out;
}

task<result<void>> write_file(std::filesystem::path path, std::span<const std::byte> bytes,
                              write_file_options options, std::stop_token token) {
    const std::filesystem::path target = options.atomic ? temporary_for(path) : path;
    const auto flags = open_flags::write | open_flags::create |
                       (options.atomic ? open_flags::exclusive : open_flags::truncate);
    auto f = co_await file::open(target, flags, options.permissions, token);
    if (!f) {
        co_return f.error();
    }
    result<void> r = co_await f->write_all_at(0, bytes, token);
    if (r && (options.sync || options.atomic)) {
        r = co_await f->fsync(token);  // atomic: the content lasts before the name points at it
    }
    if (auto closed = f->close(); r && !closed) {
        r = closed.error();
    }
    if (options.atomic) {
        if (r) {
            auto call = [from = target, to = std::move(path), sync_dir = options.sync] {
                return rename_and_sync(from, to, sync_dir);
            };
            r = co_await spawn_blocking(std::move(call), token);
        }
        if (!r) {
            ::unlink(target.c_str());  // ENOENT if a cancelled rename went ahead: nothing left
        }
    }
    co_return r;
}

task<result<void>> write_file(std::filesystem::path path, std::string_view text,
                              write_file_options options, std::stop_token token) {
    return write_file(std::move(path), std::as_bytes(std::span(text.data(), text.size())), options,
                      std::move(token));
}

}  // namespace corio
