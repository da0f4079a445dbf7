// SPDX-License-Identifier: MIT
// static_files: path decoding and confinement, content types, conditional GET.
#include <corio/http/static_files.hpp>

#include "http/date.hpp"

#include <array>
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
// symlinks) that leaves the root, so a symlink inside the tree still works (Linux 5.6+).
int open_beneath(int root, const char* rel) {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
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
    int fd = open_beneath(root_fd_, rel.empty() ? "." : rel.c_str());
    if (fd < 0) {
        return refuse(status_for_errno(errno));
    }
    struct stat st {};
    std::string_view name = rel;
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        return refuse(status_for_errno(e));
    }
    if (S_ISDIR(st.st_mode)) {
        const int index = ::openat(fd, "index.html", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        const int e = errno;
        ::close(fd);
        if (index < 0) {
            return refuse(status_for_errno(e));
        }
        fd = index;
        name = "index.html";
        if (::fstat(fd, &st) != 0) {
            const int fe = errno;
            ::close(fd);
            return refuse(status_for_errno(fe));
        }
    }
    if (!S_ISREG(st.st_mode)) {  // devices, FIFOs, sockets: never
        ::close(fd);
        return refuse(403);
    }
    char date[32];
    const std::string_view modified = detail::format_http_date(st.st_mtim.tv_sec, date);
    if (auto since = r.header("If-Modified-Since")) {
        if (auto t = detail::parse_http_date(*since); t && st.st_mtim.tv_sec <= *t) {
            ::close(fd);
            response not_modified(304, {}, {});
            not_modified.header("Last-Modified", modified);
            return not_modified;
        }
    }
    response ok(200, {}, content_type_of(name));
    ok.header("Last-Modified", modified);
    ok.file({fd, static_cast<std::uint64_t>(st.st_size)});
    return ok;
}

handler static_files::as_handler() const {
    return [this](const request& r) -> task<response> { co_return serve(r); };
}

}  // namespace corio::http
