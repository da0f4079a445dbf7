// SPDX-License-Identifier: MIT
// The kqueue watch_source: EVFILT_VNODE on one descriptor per watch; a watched directory's
// entry events come from comparing its listing before and after each NOTE_WRITE.
#include "file_watch_source.hpp"

#include <corio/error.hpp>

#ifdef CORIO_HAS_KQUEUE
#include "vnode_queue.hpp"

#include <cerrno>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace corio::detail {

#ifdef CORIO_HAS_KQUEUE
namespace {

std::error_code last_error() {
    return {errno, std::system_category()};
}

#ifdef O_EVTONLY
constexpr int watch_open_flags = O_EVTONLY | O_CLOEXEC;  // macOS: does not pin the volume
#else
constexpr int watch_open_flags = O_RDONLY | O_CLOEXEC;
#endif
#ifdef NOTE_REVOKE
constexpr unsigned note_revoke = NOTE_REVOKE;  // the file system went away (unmount)
#else
constexpr unsigned note_revoke = 0;  // libkqueue defines none
#endif
constexpr unsigned vnode_notes =
    NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME | note_revoke;

struct entry {
    ino_t inode;
    bool is_directory;
};
using listing = std::map<std::string, entry>;

// The entries of the directory open as `fd` (a fresh descriptor: a DIR stream owns its own).
result<listing> list_directory(int fd) {
    const int copy = ::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (copy < 0) {
        return last_error();
    }
    DIR* d = ::fdopendir(copy);
    if (d == nullptr) {
        auto e = last_error();
        ::close(copy);
        return e;
    }
    listing out;
    while (const dirent* de = ::readdir(d)) {
        const std::string name = de->d_name;
        if (name != "." && name != "..") {
            out.emplace(name, entry{de->d_ino, de->d_type == DT_DIR});
        }
    }
    ::closedir(d);
    return out;
}

struct watch {
    int fd;
    std::filesystem::path path;
    bool is_directory;
    listing entries;  // directories: the listing as last reported
};

class kqueue_source final : public watch_source {
public:
    explicit kqueue_source(std::unique_ptr<vnode_queue> queue) : queue_(std::move(queue)) {}
    ~kqueue_source() override {
        queue_.reset();  // first: a relay thread may still be reading knotes
        for (auto& [id, w] : watches_) {
            ::close(w.fd);
        }
    }

    result<watch_id> add(int, const std::filesystem::path& path) override {
        struct stat st;
        if (::stat(path.c_str(), &st) != 0) {
            return last_error();
        }
        for (const auto& [id, w] : watches_) {
            struct stat seen;
            if (::fstat(w.fd, &seen) == 0 && seen.st_dev == st.st_dev && seen.st_ino == st.st_ino) {
                return watch_id{id};  // the same file: one watch, as inotify does
            }
        }
        const int fd = ::open(path.c_str(), watch_open_flags);
        if (fd < 0) {
            return last_error();
        }
        watch w{fd, path, S_ISDIR(st.st_mode), {}};
        if (w.is_directory) {
            auto entries = list_directory(fd);
            if (!entries) {
                ::close(fd);
                return entries.error();
            }
            w.entries = std::move(*entries);
        }
        const int id = next_id_++;
        struct kevent change;
        EV_SET(&change, static_cast<uintptr_t>(fd), EVFILT_VNODE, EV_ADD | EV_CLEAR, vnode_notes, 0,
               reinterpret_cast<void*>(static_cast<std::intptr_t>(id)));
        if (::kevent(queue_->kq(), &change, 1, nullptr, 0, nullptr) != 0) {
            auto e = last_error();
            ::close(fd);
            return e;
        }
        watches_.emplace(id, std::move(w));
        return watch_id{id};
    }

    result<void> remove(int, watch_id id) override {
        auto it = watches_.find(id.value);
        if (it == watches_.end()) {
            return std::errc::invalid_argument;
        }
        ::close(it->second.fd);  // closing the descriptor deletes its knote
        watches_.erase(it);
        return {};
    }

    result<std::size_t> read(int fd, std::deque<file_event>& out) override {
        auto got = queue_->take(fd);
        if (!got) {
            return got.error();
        }
        for (const vnode_note& n : *got) {
            translate(n, out);
        }
        return got->size() * sizeof(vnode_note);
    }

private:
    void translate(const vnode_note& n, std::deque<file_event>& out) {
        auto it = watches_.find(n.id);
        if (it == watches_.end()) {
            return;  // removed meanwhile
        }
        watch& w = it->second;
        const watch_id id{n.id};
        auto self = [&](file_event_kind kind) {
            out.push_back({.kind = kind, .watch = id, .path = w.path, .is_directory = w.is_directory});
        };
        if ((n.notes & (NOTE_WRITE | NOTE_EXTEND)) && w.is_directory) {
            rescan(id, w, out);
        } else if (n.notes & (NOTE_WRITE | NOTE_EXTEND)) {
            self(file_event_kind::modified);
        }
        if (n.notes & (NOTE_ATTRIB | NOTE_LINK)) {
            self(file_event_kind::attributes);
        }
        if (n.notes & NOTE_RENAME) {
            self(file_event_kind::watched_moved);
        }
        if (n.notes & (NOTE_DELETE | note_revoke)) {
            self(file_event_kind::watched_deleted);
            ::close(w.fd);  // the watch has ended, as inotify's does
            watches_.erase(it);
        }
    }

    // Reports what changed in `w`'s listing: a name gone and a name new with the same inode is
    // a rename; the rest are deletions and creations (names in order).
    void rescan(watch_id id, watch& w, std::deque<file_event>& out) {
        auto now = list_directory(w.fd);
        if (!now) {
            return;  // the directory is going: its NOTE_DELETE follows
        }
        std::unordered_map<ino_t, std::string> gone;
        for (const auto& [name, e] : w.entries) {
            if (auto found = now->find(name); found == now->end() || found->second.inode != e.inode) {
                gone.emplace(e.inode, name);
            }
        }
        std::deque<file_event> created;
        for (const auto& [name, e] : *now) {
            auto old = w.entries.find(name);
            if (old != w.entries.end() && old->second.inode == e.inode) {
                continue;
            }
            file_event ev{.watch = id, .path = w.path / name, .is_directory = e.is_directory};
            if (auto from = gone.find(e.inode); from != gone.end()) {
                ev.kind = file_event_kind::renamed;
                ev.from_path = w.path / from->second;
                ev.from_watch = id;
                gone.erase(from);
            } else {
                ev.kind = file_event_kind::created;
            }
            created.push_back(std::move(ev));
        }
        for (const auto& [name, e] : w.entries) {
            if (auto g = gone.find(e.inode); g != gone.end() && g->second == name) {
                out.push_back({.kind = file_event_kind::deleted, .watch = id,
                               .path = w.path / name, .is_directory = e.is_directory});
            }
        }
        for (file_event& ev : created) {
            out.push_back(std::move(ev));
        }
        w.entries = std::move(*now);
    }

    std::unique_ptr<vnode_queue> queue_;
    std::unordered_map<int, watch> watches_;  // live watches by id; ids are never reused
    int next_id_ = 1;
};

}  // namespace

result<opened_source> open_kqueue_source() {
    auto queue = vnode_queue::open();
    if (!queue) {
        return queue.error();
    }
    const int fd = (*queue)->fd();
    return opened_source{std::make_unique<kqueue_source>(std::move(*queue)), fd};
}

#else

result<opened_source> open_kqueue_source() {
    return errc::backend_unavailable;
}

#endif

}  // namespace corio::detail
