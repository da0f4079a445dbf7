// SPDX-License-Identifier: MIT
// tail_follow: prints the lines appended to FILE as they are written, like `tail -F`, driven by
// a corio::file_watcher (no polling): it survives truncation and rotation, and waits for FILE.
#include "cli.hpp"

#include <corio/file_watcher.hpp>
#include <corio/runtime.hpp>
#include <corio/signal_listener.hpp>
#include <corio/task.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <optional>
#include <stop_token>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using corio::file_event;
using corio::task;

constexpr const char* usage =
    "usage: tail_follow [--backend NAME] [-n N] FILE\n"
    "Prints the lines appended to FILE as they are written, like tail -F: it starts at the end\n"
    "(-n N: first the last N lines), reads from the start again when FILE is truncated, finishes\n"
    "a rotated FILE (renamed) and follows the new one once it is created, and waits for FILE\n"
    "while it does not exist (its directory must). Exits 0 on SIGINT/SIGTERM.\n";

// The file being followed: its descriptor, how far it has been read, and a line not yet ended.
// Regular files are read with plain read(2): it never says EAGAIN, so there is nothing to await.
class followed_file {
public:
    explicit followed_file(fs::path path) : path_(std::move(path)) {}
    ~followed_file() { close(); }

    // Opens FILE if it exists and is another file than the one open: the old one is finished
    // first (a rotated file's last lines), then the new one is read from `start` (its start
    // when it replaces one; its end, or its last `tail` lines, at startup).
    bool reopen(bool at_start, std::size_t tail) {
        struct stat now;
        if (::stat(path_.c_str(), &now) != 0 || (fd_ >= 0 && same_file(now))) {
            return false;
        }
        drain();
        close();
        fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) {
            return false;  // gone again between stat and open: the next event retries
        }
        inode_ = now.st_ino;
        device_ = now.st_dev;
        if (!at_start) {
            print_last(tail);
        }
        return true;
    }

    // Prints every complete line written since the last call; a file that shrank was
    // truncated, so it is read from its start again.
    void drain() {
        struct stat st;
        if (fd_ < 0 || ::fstat(fd_, &st) != 0) {
            return;
        }
        if (st.st_size < offset_) {
            fmt::print(stderr, "tail_follow: {}: file truncated\n", path_.string());
            offset_ = 0;
            partial_.clear();
        }
        char buf[65536];
        ssize_t n;
        while ((n = ::pread(fd_, buf, sizeof buf, offset_)) > 0) {
            offset_ += n;
            partial_.append(buf, static_cast<std::size_t>(n));
        }
        if (const auto end = partial_.rfind('\n'); end != std::string::npos) {
            std::fwrite(partial_.data(), 1, end + 1, stdout);
            std::fflush(stdout);
            partial_.erase(0, end + 1);
        }
        if (st.st_nlink == 0) {
            close();  // deleted: nothing more can be written to it
        }
    }

    bool is_open() const noexcept { return fd_ >= 0; }

private:
    bool same_file(const struct stat& st) const noexcept {
        return st.st_ino == inode_ && st.st_dev == device_;
    }
    void close() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
        offset_ = 0;
        partial_.clear();
    }
    // Starts at the end, having printed the last `n` complete lines.
    void print_last(std::size_t n) {
        std::deque<std::string> last;
        drain_into(last, n);
        for (const std::string& line : last) {
            fmt::print("{}", line);
        }
        std::fflush(stdout);
    }
    void drain_into(std::deque<std::string>& last, std::size_t n) {
        char buf[65536];
        ssize_t got;
        while ((got = ::pread(fd_, buf, sizeof buf, offset_)) > 0) {
            offset_ += got;
            partial_.append(buf, static_cast<std::size_t>(got));
            std::size_t end;
            while ((end = partial_.find('\n')) != std::string::npos) {
                last.push_back(partial_.substr(0, end + 1));
                partial_.erase(0, end + 1);
                if (last.size() > n) {
                    last.pop_front();
                }
            }
        }
    }

    fs::path path_;
    int fd_ = -1;
    ino_t inode_ = 0;
    dev_t device_ = 0;
    off_t offset_ = 0;
    std::string partial_;
};

// Follows `path` until `stop`; each event that may concern FILE is a cue to look again.
task<int> follow(fs::path path, std::size_t tail, std::string backend, std::stop_token stop) {
    auto watcher = corio::file_watcher::open();
    if (!watcher) {
        fmt::print(stderr, "tail_follow: {}\n", watcher.error().message());
        co_return 1;
    }
    // The directory tells when FILE appears, is renamed or deleted; a watch on FILE itself
    // tells when it is written (some methods report that only on the file).
    if (auto dir = watcher->add(path.parent_path()); !dir) {
        fmt::print(stderr, "tail_follow: {}: {}\n", path.parent_path().string(),
                   dir.error().message());
        co_return 1;
    }
    followed_file file(path);
    std::optional<corio::watch_id> file_watch;
    auto look = [&](bool at_start) {
        if (file.reopen(at_start, tail)) {
            if (file_watch) {
                (void)watcher->remove(*file_watch);
            }
            file_watch = watcher->add(path).value_or(corio::watch_id{});
        }
        file.drain();
    };
    look(false);
    fmt::print(stderr, "tail_follow: following {} ({})\n", path.string(), backend);
    for (;;) {
        auto event = co_await watcher->next(stop);
        if (!event) {
            co_return event.error() == std::errc::operation_canceled ? 0 : 1;
        }
        const bool about_file = event->path == path || event->from_path == path ||
                                (file_watch && event->watch == *file_watch) ||
                                event->kind == corio::file_event_kind::overflow;
        if (about_file) {
            look(true);
        }
    }
}

task<int> run(corio::signal_listener& signals, fs::path path, std::size_t tail,
              std::string backend) {
    std::stop_source stop;
    corio::spawn([](corio::signal_listener& signals, std::stop_source& stop) -> task<> {
        (void)co_await signals.wait();
        stop.request_stop();  // the pending next() resumes with operation_canceled
    }(signals, stop));
    co_return co_await follow(std::move(path), tail, std::move(backend), stop.get_token());
}

}  // namespace

int main(int argc, char** argv) {
    cli::args args(argc, argv, usage);
    std::string backend;
    std::size_t tail = 0;
    std::optional<fs::path> path;
    while (args.next()) {
        if (args.common(backend)) {
            continue;
        }
        if (args.is("-n")) {
            tail = args.number<std::size_t>(0, 1'000'000);
        } else if (!path && !args.current().starts_with('-')) {
            path = fs::absolute(fs::path(args.current())).lexically_normal();
        } else {
            args.unknown();
        }
    }
    if (!path) {
        args.fail("FILE is missing");
    }
    auto rt = args.runtime(backend);
    // Caught before the "following" line: a signal sent as soon as it is printed is not fatal.
    auto signals = corio::signal_listener::open({SIGINT, SIGTERM});
    if (!signals) {
        fmt::print(stderr, "tail_follow: signals: {}\n", signals.error().message());
        return 1;
    }
    return rt.block_on(run(*signals, std::move(*path), tail, std::string(rt.backend_name())));
}
