// SPDX-License-Identifier: MIT
// corio's own error conditions and the exception type for programmer errors.
#pragma once

#include <stdexcept>
#include <string>
#include <system_error>

namespace corio {

/// Error conditions that corio itself detects (not reported by the OS).
/// They live in corio's own category; OS failures keep std::system_category.
enum class errc {
    fd_set_overflow = 1,   ///< select() cannot watch a descriptor >= FD_SETSIZE
    backend_unavailable,   ///< the requested reactor backend is not compiled in or not usable
    unexpected_eof,        ///< the peer closed before a complete unit of data arrived
    invalid_address,       ///< text that is not an IP address or endpoint
    closed,                ///< the handle was closed while the operation waited
    stale_descriptor,      ///< the descriptor was closed behind corio's back and its number reused
    line_too_long,         ///< no delimiter (end of line) within the maximum length allowed
    descriptors_truncated, ///< more descriptors arrived (SCM_RIGHTS) than the receiver had room for
};

/// The category of corio::errc; message() names the condition in words.
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// Thrown for programmer errors only: awaiting a task twice, two concurrent reads on one
/// handle, value() on an error. I/O failures are never thrown; they are result values.
class usage_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

}  // namespace corio

template <>
struct std::is_error_code_enum<corio::errc> : std::true_type {};
