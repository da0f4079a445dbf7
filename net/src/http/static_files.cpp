// SPDX-License-Identifier: MIT
// static_files: path decoding and confinement, content types, conditional GET.
#include <corio/http/static_files.hpp>

#include "http/date.hpp"

#include <corio/spawn_blocking.hpp>

#include <array>
#include <cstdint>
#include <cerrno>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace corio::http {
namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The path as a relative file name below the root, or the status refusing it.
int relative_path(std::string_view raw, std::string& rel) {
    rel.clear();
    std::string segment;
    const auto finish_segment = [&]() {
        if (segment == "..") {
            return 403;  // never climbs, whatever follows
        }
        if (!segment.empty() && segment != ".") {
            if (!rel.empty()) {
                rel.push_back('/');
            }
            rel += segment;
        }
        segment.clear();
        return 0;
    };
    for (std::size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '/') {
            if (int s = finish_segment()) {
                return s;
            }
            continue;
        }
        if (c == '%') {
            const int hi = i + 2 < raw.size() ? hex_value(raw[i + 1]) : -1;
            const int lo = i + 2 < raw.size() ? hex_value(raw[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return 400;
            }
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
            if (c == '/' || c == '\0' || c == '\\') {
                return 403;  // an encoded separator or NUL would change what the path names
            }
        }
        segment.push_back(c);
    }
    return finish_segment();
}

std::string_view content_type_of(std::string_view name) noexcept {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 18> types{{
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
        {".md", "text/markdown; charset=utf-8"},
        {".xml", "application/xml"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".wasm", "application/wasm"},
        {".pdf", "application/pdf"},
        {".gz", "application/gzip"},
    }};
    const std::size_t dot = name.rfind('.');
    const std::size_t slash = name.rfind('/');
    if (dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash)) {
        const std::string_view ext = name.substr(dot);
        for (const auto& [e, type] : types) {
            if (field_name_equal(e, ext)) {  // ASCII case-insensitive, as for field names
                return type;
            }
        }
    }
    return "application/octet-stream";
}

// openat2 with RESOLVE_BENEATH: the kernel refuses any resolution (.., absolute or escaping
// symlinks) that leaves the root, so a symlink inside the tree still works (Linux 5.6+). With
// RESOLVE_CACHED (5.12+) it fails with EAGAIN instead of waiting for the disk.
int open_beneath(int root, const char* rel, std::uint64_t resolve, std::uint64_t extra_flags = 0) {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | extra_flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | resolve;
    return static_cast<int>(::syscall(SYS_openat2, root, rel, &how, sizeof how));
}

int status_for_errno(int e) noexcept {
    switch (e) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EACCES:
    case EPERM:
    case EXDEV:   // resolution would leave the root
    case ELOOP:   // a magic link, or index.html is a symlink
        return 403;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return 503;  // the server is out of resources, not the client out of rights: retry
    default:
        return 500;  // EIO, ENOSYS (no openat2)...: our fault, not a refusal
    }
}

response refuse(int status) {
    response r(status, std::string(reason_phrase(status)) + "\n");
    if (status == 503) {
        // Descriptors come back as connections close; a second is long enough to wait.
        r.header("Retry-After", "1");
    }
    return r;
}

constexpr int not_cached = -1;  // opened_file::status: the dentry cache could not resolve it

/// What open_file found: an open regular file and its stat, or the status refusing it. Owns
/// the descriptor (closed if nobody takes it, e.g. a lookup on the pool whose task was cancelled).
struct opened_file {
    int fd = -1;
    int status = 0;
    bool index = false;  // the directory's index.html
    struct stat st {};
    opened_file() = default;
    explicit opened_file(int refused) noexcept : status(refused) {}
    opened_file(opened_file&& o) noexcept
        : fd(std::exchange(o.fd, -1)), status(o.status), index(o.index), st(o.st) {}
    opened_file& operator=(opened_file&& o) noexcept {
        std::swap(fd, o.fd);
        status = o.status;
        index = o.index;
        st = o.st;
        return *this;
    }
    ~opened_file() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

opened_file refused_by(int err, bool cached_only) {
    // EINVAL: a kernel before 5.12, without RESOLVE_CACHED; the pool's plain lookup says more.
    const bool retry = cached_only && (err == EAGAIN || err == EINVAL);
    return opened_file(retry ? not_cached : status_for_errno(err));
}

// Opens `rel` below `root` (a directory: its index.html) and stats it. With cached_only, only
// from the dentry cache: status not_cached where that would wait for the disk.
opened_file open_file(int root, const std::string& rel, bool cached_only) {
    const std::uint64_t cached = cached_only ? RESOLVE_CACHED : 0;
    opened_file o;
    o.fd = open_beneath(root, rel.empty() ? "." : rel.c_str(), cached);
    if (o.fd < 0 || ::fstat(o.fd, &o.st) != 0) {
        return refused_by(errno, cached_only);
    }
    if (S_ISDIR(o.st.st_mode)) {
        opened_file index;
        index.fd = open_beneath(o.fd, "index.html", cached | RESOLVE_NO_SYMLINKS);
        if (index.fd < 0 || ::fstat(index.fd, &index.st) != 0) {
            return refused_by(errno, cached_only);
        }
        index.index = true;
        o = std::move(index);
    }
    if (!S_ISREG(o.st.st_mode)) {  // devices, FIFOs, sockets: never
        return opened_file(403);
    }
    return o;
}

// The response for an opened file: 304 or 200 with the file as the body (read asynchronously
// by the server), or the refusal.
response answer(const request& r, opened_file o, std::string_view rel) {
    if (o.status != 0) {
        return refuse(o.status);
    }
    char date[32];
    const std::string_view modified = detail::format_http_date(o.st.st_mtim.tv_sec, date);
    if (auto since = r.header("If-Modified-Since")) {
        if (auto t = detail::parse_http_date(*since); t && o.st.st_mtim.tv_sec <= *t) {
            response not_modified(304, {}, {});
            not_modified.header("Last-Modified", modified);
            return not_modified;
        }
    }
    response ok(200, {}, content_type_of(o.index ? std::string_view("index.html") : rel));
    ok.header("Last-Modified", modified);
    ok.file({std::exchange(o.fd, -1), static_cast<std::uint64_t>(o.st.st_size)});
    return ok;
}

}  // namespace

result<static_files> static_files::open(const std::string& root) {
    const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return std::error_code(errno, std::system_category());
    }
    return static_files(fd);
}

static_files::static_files(static_files&& o) noexcept : root_fd_(std::exchange(o.root_fd_, -1)) {}

static_files& static_files::operator=(static_files&& o) noexcept {
    if (this != &o) {
        if (root_fd_ >= 0) {
            ::close(root_fd_);
        }
        root_fd_ = std::exchange(o.root_fd_, -1);
    }
    return *this;
}

static_files::~static_files() {
    if (root_fd_ >= 0) {
        ::close(root_fd_);
    }
}

response static_files::serve(const request& r) const {
    std::string rel;
    if (int status = relative_path(r.path, rel); status != 0) {
        return refuse(status);
    }
    return answer(r, open_file(root_fd_, rel, false), rel);
}

handler static_files::as_handler() const {
    return [this](const request& r) -> task<response> {
        std::string rel;
        if (int status = relative_path(r.path, rel); status != 0) {
            co_return refuse(status);
        }
        // From the dentry cache on the loop (no disk wait); else the whole lookup on the pool.
        opened_file o = open_file(root_fd_, rel, true);
        if (o.status == not_cached) {
            auto call = [root = root_fd_, rel] { return open_file(root, rel, false); };
            auto slow = co_await spawn_blocking(std::move(call));
            if (!slow) {
                co_return refuse(503);  // the server is stopping, or no pool thread could start
            }
            o = std::move(*slow);
        }
        co_return answer(r, std::move(o), rel);
    };
}

}  // namespace corio::http
