// SPDX-License-Identifier: MIT
// The inotify watch_source (Linux): entry names, rename pairs by cookie, overflow events.
#include "file_watch_source.hpp"

#include <corio/error.hpp>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <utility>

#ifdef __linux__
#include <sys/inotify.h>
#include <unistd.h>
#endif

namespace corio::detail {

#ifdef __linux__
namespace {

std::error_code last_error() {
    return {errno, std::system_category()};
}

// Everything file_watcher reports. IN_EXCL_UNLINK: an entry unlinked while still open reports
// no more events (a log file deleted under its writer stays quiet).
constexpr std::uint32_t watch_mask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB |
                                     IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
                                     IN_MOVE_SELF | IN_EXCL_UNLINK;

class inotify_source final : public watch_source {
public:
    result<watch_id> add(int fd, const std::filesystem::path& path) override {
        const int wd = ::inotify_add_watch(fd, path.c_str(), watch_mask);
        if (wd < 0) {
            if (errno == ENOSPC) {  // not a full disk: fs.inotify.max_user_watches
                return make_error_code(watch_errc::limit_reached);
            }
            return last_error();
        }
        paths_.insert_or_assign(wd, path);
        return watch_id{wd};
    }

    result<void> remove(int fd, watch_id id) override {
        if (paths_.erase(id.value) == 0) {
            return std::errc::invalid_argument;
        }
        // The kernel answers with IN_IGNORED, which read() drops: the path is no longer known.
        if (::inotify_rm_watch(fd, id.value) != 0) {
            return last_error();
        }
        return {};
    }

    result<std::size_t> read(int fd, std::deque<file_event>& out) override {
        std::size_t bytes = 0;
        bool any = false;
        // A rename's two halves are queued one after the other but may straddle two reads:
        // while the last event read is an IN_MOVED_FROM, read on before calling it moved_out.
        for (;;) {
            const ssize_t n = ::read(fd, buf_.data(), buf_.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                if (errno != EAGAIN || (!any && !moved_from_)) {
                    return last_error();
                }
                break;
            }
            any = true;
            bytes += static_cast<std::size_t>(n);
            parse(static_cast<std::size_t>(n), out);
            if (!moved_from_) {
                break;
            }
        }
        flush_moved_from(out);
        return bytes;
    }

private:
    struct pending_move {
        std::uint32_t cookie;
        file_event event;  // moved_out, until its IN_MOVED_TO makes it a rename
    };

    void parse(std::size_t len, std::deque<file_event>& out) {
        std::size_t at = 0;
        while (at + sizeof(inotify_event) <= len) {
            inotify_event ev;
            std::memcpy(&ev, buf_.data() + at, sizeof ev);
            const char* name = reinterpret_cast<const char*>(buf_.data() + at + sizeof ev);
            const std::size_t name_len = ev.len ? ::strnlen(name, ev.len) : 0;
            at += sizeof ev + ev.len;
            translate(ev, std::string_view(name, name_len), out);
        }
    }

    void translate(const inotify_event& ev, std::string_view name, std::deque<file_event>& out) {
        if (ev.mask & IN_Q_OVERFLOW) {
            flush_moved_from(out);
            out.push_back({.kind = file_event_kind::overflow});
            return;
        }
        auto watched = paths_.find(ev.wd);
        if (watched == paths_.end()) {
            return;  // a removed watch's leftovers, and its IN_IGNORED
        }
        if (ev.mask & IN_IGNORED) {
            paths_.erase(watched);  // ended by the kernel: deleted or unmounted (reported)
            return;
        }
        file_event e{.watch = watch_id{ev.wd},
                     .path = name.empty() ? watched->second : watched->second / name,
                     .is_directory = (ev.mask & IN_ISDIR) != 0};
        if (ev.mask & IN_MOVED_TO) {
            if (moved_from_ && moved_from_->cookie == ev.cookie) {
                e.kind = file_event_kind::renamed;
                e.from_path = std::move(moved_from_->event.path);
                e.from_watch = moved_from_->event.watch;
                moved_from_.reset();
                out.push_back(std::move(e));
                return;
            }
            flush_moved_from(out);
            e.kind = file_event_kind::moved_in;
            out.push_back(std::move(e));
            return;
        }
        flush_moved_from(out);
        if (ev.mask & IN_MOVED_FROM) {
            e.kind = file_event_kind::moved_out;
            moved_from_.emplace(pending_move{ev.cookie, std::move(e)});
            return;
        }
        e.kind = kind_of(ev.mask);
        out.push_back(std::move(e));
    }

    static file_event_kind kind_of(std::uint32_t mask) noexcept {
        if (mask & IN_CREATE) {
            return file_event_kind::created;
        }
        if (mask & IN_DELETE) {
            return file_event_kind::deleted;
        }
        if (mask & IN_ATTRIB) {
            return file_event_kind::attributes;
        }
        if (mask & (IN_DELETE_SELF | IN_UNMOUNT)) {
            return file_event_kind::watched_deleted;
        }
        if (mask & IN_MOVE_SELF) {
            return file_event_kind::watched_moved;
        }
        return file_event_kind::modified;
    }

    void flush_moved_from(std::deque<file_event>& out) {
        if (moved_from_) {
            out.push_back(std::move(moved_from_->event));
            moved_from_.reset();
        }
    }

    std::unordered_map<int, std::filesystem::path> paths_;  // live watches: wd -> path
    std::optional<pending_move> moved_from_;  // an IN_MOVED_FROM waiting for its IN_MOVED_TO
    // Room for many events per read; aligned as the kernel writes inotify_event records.
    alignas(inotify_event) std::array<std::byte, 16 * 1024> buf_{};
};

}  // namespace

result<opened_source> open_inotify_source() {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        return last_error();
    }
    return opened_source{std::make_unique<inotify_source>(), fd};
}

#else

result<opened_source> open_inotify_source() {
    return errc::backend_unavailable;
}

#endif

}  // namespace corio::detail
