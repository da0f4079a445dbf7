// SPDX-License-Identifier: MIT
// unix_address: validation and conversion to and from sockaddr_un.
#include <corio/net/unix_address.hpp>

#include <corio/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include <sys/socket.h>
#include <sys/un.h>

namespace corio::net {

const std::size_t unix_address::max_length = sizeof(sockaddr_un::sun_path) - 1;

result<unix_address> unix_address::from_path(std::string_view path) {
    if (path.empty() || path.find('\0') != std::string_view::npos) {
        return std::errc::invalid_argument;
    }
    if (path.size() > max_length) {
        return std::errc::filename_too_long;
    }
    return unix_address(kind::path, path);
}

result<unix_address> unix_address::from_abstract(std::string_view name) {
#ifdef __linux__
    if (name.empty()) {
        return std::errc::invalid_argument;
    }
    if (name.size() > max_length) {
        return std::errc::filename_too_long;
    }
    return unix_address(kind::abstract, name);
#else
    (void)name;
    return std::errc::not_supported;
#endif
}

std::string unix_address::to_string() const {
    switch (kind_) {
        case kind::unnamed:
            return "(unnamed)";
        case kind::path:
            return name_;
        case kind::abstract: {
            std::string s = "@" + name_;
            std::replace(s.begin(), s.end(), '\0', '@');
            return s;
        }
    }
    return {};
}

std::size_t unix_address::to_sockaddr(void* storage, std::size_t capacity) const noexcept {
    if (storage == nullptr || capacity < sizeof(sockaddr_un)) {
        return 0;
    }
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::size_t len = offsetof(sockaddr_un, sun_path);
    if (kind_ == kind::path) {
        std::memcpy(sun.sun_path, name_.data(), name_.size());
        len += name_.size() + 1;  // the terminating NUL (sun is zeroed)
    } else if (kind_ == kind::abstract) {
        std::memcpy(sun.sun_path + 1, name_.data(), name_.size());  // after the leading NUL
        len += name_.size() + 1;  // exactly: an abstract name's length is significant
    }
    std::memcpy(storage, &sun, sizeof sun);
    return len;
}

result<unix_address> unix_address::from_sockaddr(const void* sa, std::size_t len) {
    const std::size_t header = offsetof(sockaddr_un, sun_path);
    if (sa == nullptr || len < sizeof(sa_family_t)) {
        return errc::invalid_address;
    }
    sockaddr_un sun{};
    std::memcpy(&sun, sa, std::min(len, sizeof sun));
    if (sun.sun_family != AF_UNIX) {
        return errc::invalid_address;
    }
    if (len <= header) {
        return unix_address();  // unnamed
    }
    const std::size_t size = std::min(len, sizeof sun) - header;
    if (sun.sun_path[0] == '\0') {
        return unix_address(kind::abstract, std::string_view(sun.sun_path + 1, size - 1));
    }
    // A path: up to its NUL (the kernel may or may not count the NUL in len).
    return unix_address(kind::path, std::string_view(sun.sun_path, strnlen(sun.sun_path, size)));
}

}  // namespace corio::net
