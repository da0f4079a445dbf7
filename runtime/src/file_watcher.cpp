// SPDX-License-Identifier: MIT
// file_watcher: the queue of events and the waits; the kernel side is a watch_source.
#include <corio/file_watcher.hpp>

#include "file_watch_source.hpp"

#include <corio/error.hpp>
#include <corio/interest.hpp>
#include <corio/io_handle.hpp>

#include <cerrno>
#include <deque>
#include <string>
#include <utility>

namespace corio {

namespace {
class watch_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "corio.file_watcher"; }
    std::string message(int code) const override {
        if (static_cast<watch_errc>(code) == watch_errc::limit_reached) {
            return "too many file watches (Linux: raise the sysctl fs.inotify.max_user_watches)";
        }
        return "unknown file_watcher error";
    }
};
}  // namespace

const std::error_category& watch_category() noexcept {
    static const watch_category_impl category;
    return category;
}

std::string_view to_string(file_event_kind kind) noexcept {
    switch (kind) {
        case file_event_kind::created: return "created";
        case file_event_kind::modified: return "modified";
        case file_event_kind::attributes: return "attributes";
        case file_event_kind::deleted: return "deleted";
        case file_event_kind::renamed: return "renamed";
        case file_event_kind::moved_in: return "moved_in";
        case file_event_kind::moved_out: return "moved_out";
        case file_event_kind::watched_deleted: return "watched_deleted";
        case file_event_kind::watched_moved: return "watched_moved";
        case file_event_kind::overflow: return "overflow";
    }
    return "unknown";
}

// A watcher's resources; outlives the watcher while a wait still runs on it.
struct file_watcher::state {
    std::unique_ptr<detail::watch_source> source;  // null once the watcher has closed
    io_handle fd;                                  // what the loop waits on for `source`
    std::deque<file_event> queue;                  // read from the kernel, not yet taken
    bool waiting = false;
};

namespace {
// One non-blocking read into the queue, as io_handle::perform runs it: the events it reads go
// straight to the queue, so whatever becomes of the wait afterwards, none is lost.
struct read_events_op {
    detail::watch_source* source;
    int fd;
    std::deque<file_event>* queue;
    result<std::size_t> operator()() const noexcept { return source->read(fd, *queue); }
};
}  // namespace

result<file_watcher> file_watcher::open(file_watcher_options options) {
    result<detail::opened_source> opened = std::errc::invalid_argument;
    switch (options.method) {
        case watch_method::automatic:
#ifdef __linux__
            opened = detail::open_inotify_source();
#else
            opened = detail::open_kqueue_source();
#endif
            break;
        case watch_method::inotify: opened = detail::open_inotify_source(); break;
        case watch_method::kqueue: opened = detail::open_kqueue_source(); break;
    }
    if (!opened) {
        return opened.error();
    }
    auto s = std::make_shared<state>();
    s->source = std::move(opened->source);
    s->fd = io_handle(opened->fd);
    return file_watcher(std::move(s));
}

file_watcher& file_watcher::operator=(file_watcher&& other) noexcept {
    if (this != &other) {
        close();
        state_ = std::move(other.state_);
    }
    return *this;
}

file_watcher::~file_watcher() {
    close();
}

void file_watcher::close() noexcept {
    if (!state_) {
        return;
    }
    (void)state_->fd.close();  // a pending wait resumes with errc::closed
    state_->source.reset();
    state_->queue.clear();
    state_.reset();
}

file_watcher::state& file_watcher::checked(const char* what) const {
    if (!state_) {
        throw usage_error(std::string("corio::file_watcher: ") + what + " on an empty watcher");
    }
    return *state_;
}

result<watch_id> file_watcher::add(const std::filesystem::path& path) {
    state& s = checked("add");
    if (path.empty() || path.native().find('\0') != std::string::npos) {
        return std::errc::invalid_argument;
    }
    return s.source->add(s.fd.fd(), path);
}

result<void> file_watcher::remove(watch_id id) {
    state& s = checked("remove");
    return s.source->remove(s.fd.fd(), id);
}

result<file_event> file_watcher::try_next() {
    state& s = checked("try_next");
    if (s.queue.empty()) {
        if (auto n = s.source->read(s.fd.fd(), s.queue); !n) {
            return n.error();
        }
        if (s.queue.empty()) {
            return std::error_code(EAGAIN, std::system_category());
        }
    }
    file_event e = std::move(s.queue.front());
    s.queue.pop_front();
    return e;
}

task<result<file_event>> file_watcher::next(std::stop_token token) {
    checked("next");
    return next_on(state_, std::move(token));
}

task<result<std::vector<file_event>>> file_watcher::next_batch(std::stop_token token) {
    checked("next_batch");
    return batch_on(state_, std::move(token));
}

task<result<void>> file_watcher::fill(std::shared_ptr<state> s, std::stop_token token) {
    if (s->waiting) {
        throw usage_error("corio::file_watcher: a second concurrent wait on one watcher");
    }
    s->waiting = true;
    struct waiting_guard {
        state& s;
        ~waiting_guard() { s.waiting = false; }
    } guard{*s};
    // The queue first: an event already read is returned even to a cancelled caller.
    while (s->queue.empty()) {
        if (!s->source) {
            co_return errc::closed;
        }
        auto n = co_await s->fd.perform(interest::read,
                                        read_events_op{s->source.get(), s->fd.fd(), &s->queue},
                                        token);
        if (!n) {
            co_return n.error();
        }
    }
    co_return result<void>{};
}

task<result<file_event>> file_watcher::next_on(std::shared_ptr<state> s, std::stop_token token) {
    if (auto filled = co_await fill(s, std::move(token)); !filled) {
        co_return filled.error();
    }
    file_event e = std::move(s->queue.front());
    s->queue.pop_front();
    co_return e;
}

task<result<std::vector<file_event>>> file_watcher::batch_on(std::shared_ptr<state> s,
                                                            std::stop_token token) {
    if (auto filled = co_await fill(s, std::move(token)); !filled) {
        co_return filled.error();
    }
    std::vector<file_event> out(std::make_move_iterator(s->queue.begin()),
                                std::make_move_iterator(s->queue.end()));
    s->queue.clear();
    co_return out;
}

}  // namespace corio
