// SPDX-License-Identifier: MIT
// resolve: host and service names to endpoints (getaddrinfo on the blocking pool), and the
// error category of getaddrinfo's EAI_* codes.
#pragma once

#include <corio/net/address.hpp>
#include <corio/result.hpp>
#include <corio/task.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

namespace corio::net {

/// Why a name did not resolve: getaddrinfo's EAI_* codes under portable names, in
/// resolve_category(). Compare an error with them: `ec == resolve_errc::host_not_found`.
/// EAI_SYSTEM never appears: resolve() returns the errno it stands for (system_category).
enum class resolve_errc {
    host_not_found = 1,     ///< EAI_NONAME: no such host or service (or not numeric with numeric_host)
    try_again,              ///< EAI_AGAIN: the name server answered "try again later" or not at all
    no_recovery,            ///< EAI_FAIL: the name server failed for good
    no_address,             ///< EAI_NODATA: the host exists but has no address
    address_family,         ///< EAI_ADDRFAMILY: the host has no address of the requested family
    family_not_supported,   ///< EAI_FAMILY: the requested family is not supported
    service_not_found,      ///< EAI_SERVICE: no such service for the socket type
    socket_type_not_supported,  ///< EAI_SOCKTYPE
    bad_flags,              ///< EAI_BADFLAGS
    out_of_memory,          ///< EAI_MEMORY
    overflow,               ///< EAI_OVERFLOW
    unknown,                ///< a code this build does not know
};

/// The category of resolve_errc, named "corio.resolve"; message() says what failed in words.
/// out_of_memory is equivalent to std::errc::not_enough_memory, family_not_supported to
/// std::errc::address_family_not_supported.
const std::error_category& resolve_category() noexcept;

inline std::error_code make_error_code(resolve_errc e) noexcept {
    return {static_cast<int>(e), resolve_category()};
}

/// What resolve() asks getaddrinfo for. Every field has a usable default: any family, TCP.
struct resolve_options {
    /// The transport the endpoints are for (getaddrinfo's socket type, which picks the
    /// service's port: "domain" is 53 for both).
    enum class transport : std::uint8_t { tcp, udp };

    /// Only addresses of this family; nullopt: both, in getaddrinfo's order (RFC 6724).
    std::optional<address_family> family{};
    transport type = transport::tcp;
    /// AI_PASSIVE: for an empty host, the wildcard addresses (0.0.0.0, ::) to bind to, instead
    /// of the loopback ones to connect to.
    bool passive = false;
    /// AI_NUMERICHOST: the host must be a numeric address; never asks a name server. A name
    /// then fails with resolve_errc::host_not_found at once.
    bool numeric_host = false;
    /// AI_ADDRCONFIG: only families this machine has a non-loopback address of. Off by default:
    /// with it, "localhost" fails on a machine whose only interface is the loopback one.
    bool address_configured = false;
};

/// Resolves `host` (a name, a numeric IPv4/IPv6 address, "[::1]", or "" for the loopback or,
/// with options.passive, the wildcard addresses) and `service` (a decimal port, or a name from
/// /etc/services such as "http") to endpoints, IPv4 and IPv6, in getaddrinfo's order of
/// preference, duplicates removed; never empty on success.
///
/// A numeric host with a decimal service is parsed here, without a thread. Anything else runs
/// getaddrinfo through corio::spawn_blocking, so the loop keeps running; a cancellation
/// (`token`, or the task's ambient token: with_timeout) returns at once while getaddrinfo
/// finishes on the pool and its answer is dropped. At most max_concurrent_resolutions()
/// getaddrinfo calls run at once in the process; the others wait their turn (a cancellation
/// while waiting also returns at once). A cancelled call gives its turn back at once, so a name
/// server that does not answer delays the others only as long as the callers' timeouts.
///
/// Errors: resolve_errc (resolve_category) for getaddrinfo's EAI_* codes, e.g. host_not_found
/// for a name that does not exist or a service not found; the errno behind EAI_SYSTEM;
/// std::errc::invalid_argument for a host or service holding a NUL; operation_canceled;
/// errc::closed if the runtime shut its pool down first. Throws usage_error outside a runtime.
task<result<std::vector<endpoint>>> resolve(std::string host, std::string service,
                                            resolve_options options = {},
                                            std::stop_token token = {});

/// As resolve(host, service, ...), with the port as a number.
task<result<std::vector<endpoint>>> resolve(std::string host, std::uint16_t port,
                                            resolve_options options = {},
                                            std::stop_token token = {});

/// How many getaddrinfo calls resolve() runs at once, process-wide: twice the cores, at
/// least 4, unless set_max_concurrent_resolutions() chose otherwise. The limit exists because
/// getaddrinfo of a name in /etc/hosts is CPU work, not waiting: with every call of 1,000
/// concurrent resolutions on the blocking pool at once, its threads took the CPU from the loop
/// (a 1 ms ticker beside them kept under 5% of its ticks, and all of them with the limit; see
/// docs/net.md).
std::size_t max_concurrent_resolutions() noexcept;

/// Sets that limit, for a program whose resolutions mostly wait on name servers (many names
/// over DNS at once) and so want more of them in flight. Throws usage_error for 0, for more
/// than semaphore::max_permits, and when called after the first resolution that ran
/// getaddrinfo (numeric hosts do not count): call it at start-up.
void set_max_concurrent_resolutions(std::size_t n);

}  // namespace corio::net

template <>
struct std::is_error_code_enum<corio::net::resolve_errc> : std::true_type {};
