// SPDX-License-Identifier: MIT
// IP address and endpoint parsing, RFC 5952 formatting and sockaddr conversion.
#include <corio/net/address.hpp>

#include <corio/error.hpp>

#include <charconv>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace corio::net {
namespace {

// The header promises max_sockaddr_size without naming <netinet/in.h>; keep the two in step.
static_assert(sizeof(sockaddr_in6) == endpoint::max_sockaddr_size);
static_assert(sizeof(sockaddr_in) <= endpoint::max_sockaddr_size);
// The longest IPv6 text, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", plus its NUL.
static_assert(INET6_ADDRSTRLEN == 46);

// A decimal number written as to_string writes it: digits only, no sign, no spaces, and no
// leading zeros, so every value has exactly one spelling. nullopt if not so, or above max.
std::optional<std::uint32_t> parse_decimal(std::string_view text, std::uint32_t max) {
    if (text.empty() || (text.size() > 1 && text.front() == '0')) {
        return std::nullopt;
    }
    std::uint32_t value = 0;
    // from_chars alone would accept a numeric prefix ("8a"), so the whole text must be used.
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
    if (ec != std::errc{} || end != text.data() + text.size() || value > max) {
        return std::nullopt;
    }
    return value;
}

bool all_digits(std::string_view text) {
    for (char c : text) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

// The zone after '%' in "fe80::1%2" or "fe80::1%eth0" (RFC 4007 section 11).
result<std::uint32_t> parse_scope(std::string_view zone) {
    if (zone.empty()) {
        return errc::invalid_address;
    }
    if (all_digits(zone)) {
        // Index 0 means "no scope": accepting "%0" would silently drop what the user wrote.
        std::optional<std::uint32_t> index =
            parse_decimal(zone, std::numeric_limits<std::uint32_t>::max());
        if (!index || *index == 0) {
            return errc::invalid_address;
        }
        return *index;
    }
    // if_nametoindex needs a NUL-terminated name shorter than IF_NAMESIZE.
    if (zone.size() >= IF_NAMESIZE || zone.find('\0') != std::string_view::npos) {
        return errc::invalid_address;
    }
    char name[IF_NAMESIZE] = {};
    std::memcpy(name, zone.data(), zone.size());
    unsigned index = ::if_nametoindex(name);
    if (index == 0) {
        return errc::invalid_address;
    }
    return static_cast<std::uint32_t>(index);
}

// RFC 5952 by hand rather than inet_ntop: glibc prints the deprecated v4-compatible form
// ("::2:3" becomes "::0.2.0.3"), and other libcs differ again. This gives one answer everywhere.
void append_v6(std::string& out, const std::array<std::uint8_t, 16>& b, bool v4_mapped) {
    if (v4_mapped) {
        // Section 5: mixed notation for v4-mapped addresses.
        char v4[INET_ADDRSTRLEN];
        ::inet_ntop(AF_INET, &b[12], v4, sizeof v4);
        out += "::ffff:";
        out += v4;
        return;
    }
    std::array<std::uint16_t, 8> groups{};
    for (std::size_t i = 0; i < groups.size(); ++i) {
        groups[i] = static_cast<std::uint16_t>(b[2 * i] << 8 | b[2 * i + 1]);
    }
    // Section 4.2: "::" replaces the longest run of two or more zero groups, the first on a tie.
    std::size_t best_start = groups.size();
    std::size_t best_len = 1;
    for (std::size_t i = 0; i < groups.size();) {
        std::size_t j = i;
        while (j < groups.size() && groups[j] == 0) {
            ++j;
        }
        if (j - i > best_len) {
            best_start = i;
            best_len = j - i;
        }
        i = (j == i) ? i + 1 : j;
    }
    for (std::size_t i = 0; i < groups.size(); ++i) {
        if (i == best_start) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (i != 0 && i != best_start + best_len) {
            out += ':';
        }
        // Section 4.1 and 4.3: no leading zeros, lower-case hex (to_chars writes lower case).
        char hex[4];
        auto [end, ec] = std::to_chars(hex, hex + sizeof hex, groups[i], 16);
        out.append(hex, end);
    }
}

}  // namespace

result<ip_address> ip_address::parse(std::string_view text) {
    std::string_view addr = text;
    std::optional<std::string_view> zone;
    if (std::size_t pct = text.find('%'); pct != std::string_view::npos) {
        addr = text.substr(0, pct);
        zone = text.substr(pct + 1);
    }
    // inet_pton needs a C string: an embedded NUL would end it early and let "1.2.3.4\0junk"
    // through, and the length check bounds the copy.
    if (addr.empty() || addr.size() >= INET6_ADDRSTRLEN ||
        addr.find('\0') != std::string_view::npos) {
        return errc::invalid_address;
    }
    char buf[INET6_ADDRSTRLEN] = {};
    std::memcpy(buf, addr.data(), addr.size());

    // inet_pton is strict where we want it: no whitespace, no leading zeros in an IPv4 octet
    // (unlike inet_aton), and no short forms such as "1.2.3" or "127.1".
    if (addr.find(':') == std::string_view::npos) {
        std::array<std::uint8_t, 4> v4{};
        if (zone || ::inet_pton(AF_INET, buf, v4.data()) != 1) {
            return errc::invalid_address;
        }
        return from_v4_bytes(v4);
    }
    std::array<std::uint8_t, 16> v6{};
    if (::inet_pton(AF_INET6, buf, v6.data()) != 1) {
        return errc::invalid_address;
    }
    std::uint32_t scope = 0;
    if (zone) {
        result<std::uint32_t> s = parse_scope(*zone);
        if (!s) {
            return s.error();
        }
        scope = *s;
    }
    return from_v6_bytes(v6, scope);
}

bool ip_address::is_loopback() const noexcept {
    return is_v4() ? bytes_[0] == 127 : bytes_ == v6_loopback().bytes_;
}

bool ip_address::is_unspecified() const noexcept {
    for (std::uint8_t b : bytes_) {
        if (b != 0) {
            return false;
        }
    }
    return true;
}

bool ip_address::is_multicast() const noexcept {
    return is_v4() ? (bytes_[0] & 0xf0) == 0xe0 : bytes_[0] == 0xff;
}

bool ip_address::is_link_local() const noexcept {
    return is_v4() ? (bytes_[0] == 169 && bytes_[1] == 254)
                   : (bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80);
}

bool ip_address::is_v4_mapped() const noexcept {
    if (!is_v6() || bytes_[10] != 0xff || bytes_[11] != 0xff) {
        return false;
    }
    for (std::size_t i = 0; i < 10; ++i) {
        if (bytes_[i] != 0) {
            return false;
        }
    }
    return true;
}

std::array<std::uint8_t, 4> ip_address::to_v4_bytes() const {
    if (!is_v4()) {
        throw usage_error("corio::net::ip_address::to_v4_bytes() called on an IPv6 address");
    }
    return {bytes_[0], bytes_[1], bytes_[2], bytes_[3]};
}

std::array<std::uint8_t, 16> ip_address::to_v6_bytes() const {
    if (!is_v6()) {
        throw usage_error("corio::net::ip_address::to_v6_bytes() called on an IPv4 address");
    }
    return bytes_;
}

ip_address ip_address::map_to_v6() const noexcept {
    if (is_v6()) {
        return *this;
    }
    return from_v6_bytes(
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, bytes_[0], bytes_[1], bytes_[2], bytes_[3]});
}

ip_address ip_address::unmap() const noexcept {
    if (!is_v4_mapped()) {
        return *this;
    }
    return from_v4_bytes({bytes_[12], bytes_[13], bytes_[14], bytes_[15]});
}

std::string ip_address::to_string() const {
    std::string out;
    if (is_v4()) {
        char v4[INET_ADDRSTRLEN];
        ::inet_ntop(AF_INET, bytes_.data(), v4, sizeof v4);
        out = v4;
        return out;
    }
    append_v6(out, bytes_, is_v4_mapped());
    if (scope_id_ != 0) {
        out += '%';
        out += std::to_string(scope_id_);
    }
    return out;
}

std::size_t ip_address::hash() const noexcept {
    // Hash the bytes that make up equality, with the library's byte hash.
    std::array<char, 1 + 16 + 4> key{};
    key[0] = static_cast<char>(family_);
    std::memcpy(&key[1], bytes_.data(), bytes_.size());
    std::memcpy(&key[17], &scope_id_, sizeof scope_id_);
    return std::hash<std::string_view>{}(std::string_view(key.data(), key.size()));
}

result<endpoint> endpoint::parse(std::string_view text) {
    std::string_view host;
    std::string_view port_text;
    bool bracketed = !text.empty() && text.front() == '[';
    if (bracketed) {
        std::size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return errc::invalid_address;
        }
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
    } else {
        // Without brackets the host cannot hold a ':': "::1:80" could be either ::1 port 80 or
        // the address ::1:80 with no port.
        std::size_t colon = text.find(':');
        if (colon == std::string_view::npos) {
            return errc::invalid_address;
        }
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
    }
    // The port first: it is cheap, and the host may cost an if_nametoindex call.
    std::optional<std::uint32_t> port = parse_decimal(port_text, 65535);
    if (!port) {
        return errc::invalid_address;
    }
    result<ip_address> address = ip_address::parse(host);
    if (!address) {
        return address.error();
    }
    if (address->is_v6() != bracketed) {
        return errc::invalid_address;
    }
    return endpoint(*address, static_cast<std::uint16_t>(*port));
}

result<endpoint> endpoint::from(std::string_view host, std::uint16_t port) {
    bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) {
        host = host.substr(1, host.size() - 2);
    }
    result<ip_address> address = ip_address::parse(host);
    if (!address) {
        return address.error();
    }
    if (bracketed && !address->is_v6()) {
        return errc::invalid_address;
    }
    return endpoint(*address, port);
}

std::string endpoint::to_string() const {
    if (address_.is_v4()) {
        return address_.to_string() + ':' + std::to_string(port_);
    }
    return '[' + address_.to_string() + "]:" + std::to_string(port_);
}

std::size_t endpoint::to_sockaddr(void* storage, std::size_t capacity) const noexcept {
    if (storage == nullptr) {
        return 0;
    }
    // Built on the stack and copied out, because storage need not be aligned for sockaddr_in6.
    if (address_.is_v4()) {
        sockaddr_in sin;
        if (capacity < sizeof sin) {
            return 0;
        }
        std::memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port_);
        std::array<std::uint8_t, 4> b = address_.to_v4_bytes();
        std::memcpy(&sin.sin_addr, b.data(), b.size());
        std::memcpy(storage, &sin, sizeof sin);
        return sizeof sin;
    }
    sockaddr_in6 sin6;
    if (capacity < sizeof sin6) {
        return 0;
    }
    std::memset(&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port_);
    std::array<std::uint8_t, 16> b = address_.to_v6_bytes();
    std::memcpy(&sin6.sin6_addr, b.data(), b.size());
    sin6.sin6_scope_id = address_.scope_id();
    std::memcpy(storage, &sin6, sizeof sin6);
    return sizeof sin6;
}

result<endpoint> endpoint::from_sockaddr(const void* sa, std::size_t len) {
    // Read the family by offset and memcpy: sa may be unaligned, and BSD puts sa_len before it.
    constexpr std::size_t family_end = offsetof(sockaddr, sa_family) + sizeof(sa_family_t);
    if (sa == nullptr || len < family_end) {
        return errc::invalid_address;
    }
    sa_family_t family;
    std::memcpy(&family, static_cast<const char*>(sa) + offsetof(sockaddr, sa_family),
                sizeof family);
    if (family == AF_INET && len >= sizeof(sockaddr_in)) {
        sockaddr_in sin;
        std::memcpy(&sin, sa, sizeof sin);
        std::array<std::uint8_t, 4> b{};
        std::memcpy(b.data(), &sin.sin_addr, b.size());
        return endpoint(ip_address::from_v4_bytes(b), ntohs(sin.sin_port));
    }
    if (family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
        sockaddr_in6 sin6;
        std::memcpy(&sin6, sa, sizeof sin6);
        std::array<std::uint8_t, 16> b{};
        std::memcpy(b.data(), &sin6.sin6_addr, b.size());
        return endpoint(ip_address::from_v6_bytes(b, sin6.sin6_scope_id), ntohs(sin6.sin6_port));
    }
    return errc::invalid_address;
}

std::size_t endpoint::hash() const noexcept {
    // boost::hash_combine's mix: the golden-ratio step spreads nearby ports apart.
    std::size_t h = address_.hash();
    return h ^ (std::size_t{port_} + std::size_t{0x9e3779b9} + (h << 6) + (h >> 2));
}

}  // namespace corio::net
