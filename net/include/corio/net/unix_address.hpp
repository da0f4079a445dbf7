// SPDX-License-Identifier: MIT
// unix_address: where a Unix domain socket binds or connects (a path, or a Linux abstract name).
#pragma once

#include <corio/result.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace corio::net {

/// A Unix domain socket address: a filesystem path, an abstract name (Linux: a name in a
/// namespace of its own, with no file, gone when the last socket bound to it closes), or
/// unnamed (an unbound socket, or one end of socketpair()). A small value type.
class unix_address {
public:
    enum class kind : unsigned char { unnamed, path, abstract };

    /// The longest path or abstract name the kernel takes (sun_path less its terminating NUL
    /// for a path, less the leading NUL for an abstract name): 107 bytes on Linux.
    static const std::size_t max_length;

    /// Unnamed: the address of an unbound socket.
    unix_address() = default;

    /// A filesystem path (relative ones are relative to the working directory at bind or
    /// connect time). Errors: std::errc::invalid_argument for an empty path or one holding a
    /// NUL byte; std::errc::filename_too_long for one longer than max_length bytes. Never throws.
    static result<unix_address> from_path(std::string_view path);
    /// An abstract name (Linux only; any bytes, NUL included, matched exactly). Errors:
    /// std::errc::invalid_argument for an empty name, std::errc::filename_too_long past
    /// max_length bytes, std::errc::not_supported where the OS has no abstract namespace.
    static result<unix_address> from_abstract(std::string_view name);

    kind type() const noexcept { return kind_; }
    bool is_unnamed() const noexcept { return kind_ == kind::unnamed; }
    bool is_path() const noexcept { return kind_ == kind::path; }
    bool is_abstract() const noexcept { return kind_ == kind::abstract; }
    /// The path, or the abstract name without its leading NUL; empty when unnamed.
    std::string_view name() const noexcept { return name_; }

    /// The path as is; "@name" for an abstract name (the convention of ss and socat, NUL bytes
    /// in it shown as '@'); "(unnamed)" for an unnamed address.
    std::string to_string() const;

    /// Writes a sockaddr_un into storage; returns the length to pass to bind/connect, or 0
    /// when capacity is too small (sizeof(sockaddr_un) always suffices) or storage is null.
    std::size_t to_sockaddr(void* storage, std::size_t capacity) const noexcept;
    /// Reads a sockaddr_un of `len` bytes as accept, getsockname or recvfrom fill it.
    /// Errors: corio::errc::invalid_address for a null pointer or a family other than AF_UNIX.
    static result<unix_address> from_sockaddr(const void* sa, std::size_t len);

    friend bool operator==(const unix_address&, const unix_address&) = default;

private:
    unix_address(kind k, std::string_view name) : kind_(k), name_(name) {}
    kind kind_ = kind::unnamed;
    std::string name_;
};

}  // namespace corio::net
