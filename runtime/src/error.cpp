// SPDX-License-Identifier: MIT
// The corio error category.
#include <corio/error.hpp>

#include <string>

#include <sys/select.h>

namespace corio {
namespace {

class corio_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "corio"; }
    std::string message(int code) const override {
        switch (static_cast<errc>(code)) {
            case errc::fd_set_overflow:
                return "descriptor is >= FD_SETSIZE (" + std::to_string(FD_SETSIZE) +
                       ") and cannot be watched by select()";
            case errc::backend_unavailable:
                return "reactor backend is not available on this build or machine";
            case errc::unexpected_eof:
                return "peer closed the connection before the data was complete";
            case errc::invalid_address:
                return "not a valid IP address or endpoint";
            case errc::closed:
                return "handle was closed while the operation waited";
            case errc::stale_descriptor:
                return "descriptor was closed without corio and its number now names another file";
            case errc::line_too_long:
                return "line (or record) longer than the maximum length allowed";
            case errc::descriptors_truncated:
                return "more descriptors arrived than there was room for; those received were closed";
        }
        return "unknown corio error";
    }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const corio_category category;
    return category;
}

}  // namespace corio
