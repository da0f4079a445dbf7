// SPDX-License-Identifier: MIT
// IP addresses and endpoints: parsing, RFC 5952 formatting and conversion to OS socket addresses.
#pragma once

#include <corio/result.hpp>

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace corio::net {

/// Which IP version an address belongs to.
/// corio's own values: never compare them with AF_INET or AF_INET6.
enum class address_family : std::uint8_t { v4, v6 };

/// An IPv4 or IPv6 address (v6 with an optional scope id), a small value type.
/// Copies are cheap and never allocate; no function here resolves host names.
class ip_address {
  public:
    /// The IPv4 address 0.0.0.0.
    constexpr ip_address() noexcept = default;

    /// Parses "127.0.0.1", "::1", "::ffff:1.2.3.4" or "fe80::1%2". A scope after '%' is a
    /// decimal interface index (1..4294967295, no leading zeros) or an interface name looked up
    /// with if_nametoindex. Errors: corio::errc::invalid_address for anything else, including
    /// empty text, whitespace, an embedded NUL, leading zeros in an IPv4 octet ("01.2.3.4"),
    /// a scope on an IPv4 address and an unknown interface name. Never throws; thread-safe.
    static result<ip_address> parse(std::string_view text);

    /// 0.0.0.0: bind to every IPv4 interface.
    static constexpr ip_address v4_any() noexcept { return {}; }
    /// 127.0.0.1.
    static constexpr ip_address v4_loopback() noexcept { return from_v4_bytes({127, 0, 0, 1}); }
    /// "::": bind to every IPv6 interface.
    static constexpr ip_address v6_any() noexcept { return from_v6_bytes({}); }
    /// "::1".
    static constexpr ip_address v6_loopback() noexcept {
        return from_v6_bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    }

    /// The IPv4 address with these four bytes, in network order ({127, 0, 0, 1}).
    static constexpr ip_address from_v4_bytes(std::array<std::uint8_t, 4> b) noexcept {
        ip_address a;
        for (std::size_t i = 0; i < b.size(); ++i) {
            a.bytes_[i] = b[i];
        }
        return a;
    }
    /// The IPv6 address with these sixteen bytes, in network order, and this scope id
    /// (an interface index; 0 means none).
    static constexpr ip_address from_v6_bytes(std::array<std::uint8_t, 16> b,
                                              std::uint32_t scope_id = 0) noexcept {
        ip_address a;
        a.family_ = address_family::v6;
        a.bytes_ = b;
        a.scope_id_ = scope_id;
        return a;
    }

    /// Which IP version this is. This and every query below is noexcept and cannot fail.
    constexpr address_family family() const noexcept { return family_; }
    constexpr bool is_v4() const noexcept { return family_ == address_family::v4; }
    constexpr bool is_v6() const noexcept { return family_ == address_family::v6; }

    /// 127.0.0.0/8 or ::1. A v4-mapped ::ffff:127.0.0.1 is not loopback (unmap() it first).
    bool is_loopback() const noexcept;
    /// 0.0.0.0 or "::" (whatever the scope id).
    bool is_unspecified() const noexcept;
    /// 224.0.0.0/4 or ff00::/8.
    bool is_multicast() const noexcept;
    /// 169.254.0.0/16 or fe80::/10.
    bool is_link_local() const noexcept;
    /// An IPv6 address in ::ffff:0:0/96, which carries an IPv4 address in its last four bytes.
    bool is_v4_mapped() const noexcept;

    /// The four bytes of an IPv4 address, in network order.
    /// Throws corio::usage_error if this is an IPv6 address (check is_v4() or unmap() first).
    std::array<std::uint8_t, 4> to_v4_bytes() const;
    /// The sixteen bytes of an IPv6 address, in network order.
    /// Throws corio::usage_error if this is an IPv4 address (check is_v6() or map_to_v6() first).
    std::array<std::uint8_t, 16> to_v6_bytes() const;
    /// The interface index of a scoped IPv6 address; 0 when there is none (always for IPv4).
    constexpr std::uint32_t scope_id() const noexcept { return scope_id_; }

    /// An IPv4 address as its v4-mapped IPv6 form (1.2.3.4 -> ::ffff:1.2.3.4), for dual-stack
    /// sockets. An IPv6 address is returned unchanged.
    ip_address map_to_v6() const noexcept;
    /// A v4-mapped IPv6 address as the IPv4 address it carries. Others are returned unchanged.
    ip_address unmap() const noexcept;

    /// Dotted decimal for IPv4; RFC 5952 canonical text for IPv6 (lower case, longest run of
    /// two or more zero groups as "::", dotted tail only for v4-mapped), then "%<scope id>"
    /// when the scope id is not 0. parse(to_string()) gives back an equal address.
    std::string to_string() const;

    /// A hash of the whole value, for std::hash.
    std::size_t hash() const noexcept;

    /// Orders by family (every IPv4 address before every IPv6 one), then bytes, then scope id.
    friend constexpr auto operator<=>(const ip_address&, const ip_address&) noexcept = default;
    friend constexpr bool operator==(const ip_address&, const ip_address&) noexcept = default;

  private:
    // Member order is the comparison order. For IPv4, bytes_[4..15] and scope_id_ stay zero so
    // that equal addresses compare and hash equal.
    address_family family_ = address_family::v4;
    std::array<std::uint8_t, 16> bytes_{};
    std::uint32_t scope_id_ = 0;
};

/// An IP address and a port: where a socket binds or connects.
/// A small value type; converting to and from the OS sockaddr needs no system header here.
class endpoint {
  public:
    /// Bytes that to_sockaddr() needs at most (sizeof(sockaddr_in6)); sockaddr_storage suffices.
    static constexpr std::size_t max_sockaddr_size = 28;

    /// 0.0.0.0 port 0.
    constexpr endpoint() noexcept = default;
    /// This address and port (host byte order); cannot fail.
    constexpr endpoint(ip_address address, std::uint16_t port) noexcept
        : address_(address), port_(port) {}

    /// Parses "1.2.3.4:80", "[::1]:8080" or "[fe80::1%2]:80". IPv6 needs the brackets. The port
    /// is 0..65535 in decimal with no sign, spaces or leading zeros. Errors:
    /// corio::errc::invalid_address for anything else, or an address ip_address::parse rejects.
    /// Never throws; thread-safe.
    static result<endpoint> parse(std::string_view text);

    /// The endpoint for a numeric host ("1.2.3.4", "::1", "fe80::1%eth0"; "[::1]" is also
    /// accepted) and a port. No DNS lookup. Errors: corio::errc::invalid_address when the host
    /// is not an address ip_address::parse accepts, or brackets surround an IPv4 address.
    static result<endpoint> from(std::string_view host, std::uint16_t port);

    /// The address and the port (host byte order); they cannot fail.
    constexpr ip_address address() const noexcept { return address_; }
    constexpr std::uint16_t port() const noexcept { return port_; }

    /// "1.2.3.4:80" or "[2001:db8::1%2]:80"; endpoint::parse(to_string()) gives it back.
    std::string to_string() const;

    /// Writes this endpoint as a sockaddr_in or sockaddr_in6 (port in network byte order) into
    /// storage, which needs no particular alignment. Returns the bytes written, or 0 if capacity
    /// is too small for the family (max_sockaddr_size always suffices) or storage is null.
    std::size_t to_sockaddr(void* storage, std::size_t capacity) const noexcept;

    /// Reads a sockaddr_in or sockaddr_in6 of len bytes, as accept() or getsockname() fill it.
    /// The IPv6 flow label is dropped; a v4-mapped address stays IPv6. Errors:
    /// corio::errc::invalid_address for a null pointer, a family other than AF_INET or
    /// AF_INET6 (AF_UNIX, AF_UNSPEC) or len shorter than that family's structure.
    static result<endpoint> from_sockaddr(const void* sa, std::size_t len);

    /// A hash of the whole value, for std::hash.
    std::size_t hash() const noexcept;

    /// Orders by address, then port.
    friend constexpr auto operator<=>(const endpoint&, const endpoint&) noexcept = default;
    friend constexpr bool operator==(const endpoint&, const endpoint&) noexcept = default;

  private:
    ip_address address_;
    std::uint16_t port_ = 0;
};

}  // namespace corio::net

template <>
struct std::hash<corio::net::ip_address> {
    std::size_t operator()(const corio::net::ip_address& a) const noexcept { return a.hash(); }
};

template <>
struct std::hash<corio::net::endpoint> {
    std::size_t operator()(const corio::net::endpoint& e) const noexcept { return e.hash(); }
};
