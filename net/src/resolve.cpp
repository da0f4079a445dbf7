// SPDX-License-Identifier: MIT
// resolve: getaddrinfo on the blocking pool, numeric hosts parsed in place, EAI_* as an
// error category.
#include <corio/net/resolve.hpp>

#include <corio/semaphore.hpp>
#include <corio/spawn_blocking.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace corio::net {
namespace {

class resolve_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "corio.resolve"; }
    std::string message(int code) const override {
        switch (static_cast<resolve_errc>(code)) {
        case resolve_errc::host_not_found:
            return "host or service not found (the name does not resolve)";
        case resolve_errc::try_again:
            return "temporary failure in name resolution (no answer from the name server; "
                   "try again)";
        case resolve_errc::no_recovery:
            return "non-recoverable failure in name resolution";
        case resolve_errc::no_address:
            return "the host exists but has no address";
        case resolve_errc::address_family:
            return "the host has no address of the requested family";
        case resolve_errc::family_not_supported:
            return "address family not supported by the resolver";
        case resolve_errc::service_not_found:
            return "service not found for the socket type";
        case resolve_errc::socket_type_not_supported:
            return "socket type not supported by the resolver";
        case resolve_errc::bad_flags:
            return "invalid flags for name resolution";
        case resolve_errc::out_of_memory:
            return "out of memory during name resolution";
        case resolve_errc::overflow:
            return "name resolution result too long";
        case resolve_errc::unknown:
            break;
        }
        return "unknown name resolution error";
    }
    std::error_condition default_error_condition(int code) const noexcept override {
        switch (static_cast<resolve_errc>(code)) {
        case resolve_errc::out_of_memory:
            return std::errc::not_enough_memory;
        case resolve_errc::family_not_supported:
            return std::errc::address_family_not_supported;
        default:
            return {code, *this};
        }
    }
};

// EAI_SYSTEM is handled by the caller, which has errno.
resolve_errc from_eai(int code) noexcept {
    switch (code) {
    case EAI_NONAME:
        return resolve_errc::host_not_found;
    case EAI_AGAIN:
        return resolve_errc::try_again;
    case EAI_FAIL:
        return resolve_errc::no_recovery;
#ifdef EAI_NODATA
    case EAI_NODATA:
        return resolve_errc::no_address;
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
        return resolve_errc::address_family;
#endif
    case EAI_FAMILY:
        return resolve_errc::family_not_supported;
    case EAI_SERVICE:
        return resolve_errc::service_not_found;
    case EAI_SOCKTYPE:
        return resolve_errc::socket_type_not_supported;
    case EAI_BADFLAGS:
        return resolve_errc::bad_flags;
    case EAI_MEMORY:
        return resolve_errc::out_of_memory;
#ifdef EAI_OVERFLOW
    case EAI_OVERFLOW:
        return resolve_errc::overflow;
#endif
    default:
        return resolve_errc::unknown;
    }
}

// What the pool thread needs: copies, so the awaiting task may be gone by the time it runs.
struct query {
    std::string host;
    std::string service;
    addrinfo hints{};
};

result<std::vector<endpoint>> lookup(const query& q) {
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(q.host.empty() ? nullptr : q.host.c_str(),
                                 q.service.empty() ? nullptr : q.service.c_str(), &q.hints, &list);
    if (rc == EAI_SYSTEM) {
        return std::error_code(errno, std::system_category());
    }
    if (rc != 0) {
        return make_error_code(from_eai(rc));
    }
    std::vector<endpoint> out;
    for (const addrinfo* p = list; p != nullptr; p = p->ai_next) {
        auto ep = endpoint::from_sockaddr(p->ai_addr, p->ai_addrlen);
        // /etc/hosts may list an address twice; one attempt per address is enough.
        if (ep && std::find(out.begin(), out.end(), *ep) == out.end()) {
            out.push_back(*ep);
        }
    }
    ::freeaddrinfo(list);
    if (out.empty()) {
        // Only families an endpoint cannot hold came back.
        return make_error_code(resolve_errc::no_address);
    }
    return out;
}

bool is_decimal(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The port of a decimal service as getaddrinfo reads it (leading zeros allowed); nullopt
// when it is not one, or out of range (getaddrinfo would then fail with EAI_SERVICE).
std::optional<std::uint16_t> decimal_port(std::string_view s) noexcept {
    if (s.empty()) {
        return std::uint16_t{0};
    }
    unsigned value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (!is_decimal(s) || ec != std::errc{} || end != s.data() + s.size() || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

// The answer for a numeric host and a decimal service, worked out here: an empty error_code
// with `found` filled, or the error. nullopt when the host is a name (or the service one) and
// getaddrinfo must be asked.
std::optional<std::error_code> numeric_answer(std::string_view host, std::string_view service,
                                              const resolve_options& options,
                                              std::vector<endpoint>& found) {
    auto address = host.empty() ? result<ip_address>(errc::invalid_address)
                                 : ip_address::parse(host);
    if (!address) {
        if (options.numeric_host && !host.empty()) {
            return make_error_code(resolve_errc::host_not_found);
        }
        return std::nullopt;
    }
    const std::optional<std::uint16_t> port = decimal_port(service);
    if (!port) {
        return std::nullopt;
    }
    if (options.family && *options.family != address->family()) {
        return make_error_code(resolve_errc::address_family);
    }
    found.assign(1, endpoint(*address, *port));
    return std::error_code();
}

addrinfo hints_for(const resolve_options& options, bool numeric_service) {
    addrinfo h{};
    h.ai_family = !options.family                          ? AF_UNSPEC
                  : *options.family == address_family::v4 ? AF_INET
                                                          : AF_INET6;
    const bool udp = options.type == resolve_options::transport::udp;
    h.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
    h.ai_protocol = udp ? IPPROTO_UDP : IPPROTO_TCP;
    h.ai_flags = (options.passive ? AI_PASSIVE : 0) | (options.numeric_host ? AI_NUMERICHOST : 0) |
                 (options.address_configured ? AI_ADDRCONFIG : 0) |
                 (numeric_service ? AI_NUMERICSERV : 0);
    return h;
}

// The limit on getaddrinfo calls at once, fixed when the first one needs a slot.
struct resolve_limit {
    std::mutex mutex;
    // Twice the cores, at least 4, until set_max_concurrent_resolutions says otherwise.
    std::size_t limit =
        std::max<std::size_t>(4, 2 * static_cast<std::size_t>(std::thread::hardware_concurrency()));
    bool fixed = false;
};

resolve_limit& limit_state() {
    static resolve_limit state;
    return state;
}

// Process-wide: the CPU getaddrinfo takes is the machine's, whichever loop asked.
semaphore& resolve_slots() {
    static semaphore slots([] {
        resolve_limit& l = limit_state();
        std::lock_guard lock(l.mutex);
        l.fixed = true;
        return l.limit;
    }());
    return slots;
}

}  // namespace

void set_max_concurrent_resolutions(std::size_t n) {
    if (n == 0 || n > semaphore::max_permits) {
        throw usage_error("corio::net::set_max_concurrent_resolutions: the limit must be at least 1 "
                          "and at most semaphore::max_permits");
    }
    resolve_limit& l = limit_state();
    std::lock_guard lock(l.mutex);
    if (l.fixed) {
        throw usage_error("corio::net::set_max_concurrent_resolutions: called after the first "
                          "resolution that needed getaddrinfo; call it before");
    }
    l.limit = n;
}

std::size_t max_concurrent_resolutions() noexcept {
    resolve_limit& l = limit_state();
    std::lock_guard lock(l.mutex);
    return l.limit;
}

const std::error_category& resolve_category() noexcept {
    static const resolve_category_impl category;
    return category;
}

task<result<std::vector<endpoint>>> resolve(std::string host, std::string service,
                                            resolve_options options, std::stop_token token) {
    if (host.find('\0') != std::string::npos || service.find('\0') != std::string::npos) {
        co_return std::errc::invalid_argument;  // getaddrinfo would read a shorter name
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);  // getaddrinfo does not take it, but URLs write it
    }
    std::vector<endpoint> found;
    if (auto answered = numeric_answer(host, service, options, found)) {
        if (*answered) {
            co_return *answered;
        }
        co_return std::move(found);
    }
    query q{std::move(host), std::move(service), {}};
    q.hints = hints_for(options, is_decimal(q.service));
    auto call = [q = std::move(q)] { return lookup(q); };
    auto slot = co_await resolve_slots().acquire(token);
    if (!slot) {
        co_return slot.error();
    }
    co_return co_await spawn_blocking(std::move(call), std::move(token));
}

task<result<std::vector<endpoint>>> resolve(std::string host, std::uint16_t port,
                                            resolve_options options, std::stop_token token) {
    return resolve(std::move(host), std::to_string(port), options, std::move(token));
}

}  // namespace corio::net
