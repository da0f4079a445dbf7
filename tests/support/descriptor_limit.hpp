// SPDX-License-Identifier: MIT
// descriptor_limit: a raised RLIMIT_NOFILE for the length of one test.
#pragma once

#include <sys/resource.h>

namespace corio_test {

/// Raises the soft RLIMIT_NOFILE to at least `need` descriptors (e.g. to test descriptors above
/// FD_SETSIZE) and puts it back on scope exit. ok() is false when the hard limit is too low.
class descriptor_limit {
public:
    explicit descriptor_limit(rlim_t need) {
        if (::getrlimit(RLIMIT_NOFILE, &old_) != 0) {
            return;
        }
        if (old_.rlim_cur == RLIM_INFINITY || old_.rlim_cur >= need) {
            ok_ = true;
            return;
        }
        if (old_.rlim_max != RLIM_INFINITY && old_.rlim_max < need) {
            return;
        }
        rlimit raised = old_;
        raised.rlim_cur = need;
        ok_ = raised_ = ::setrlimit(RLIMIT_NOFILE, &raised) == 0;
    }
    ~descriptor_limit() {
        if (raised_) {
            (void)::setrlimit(RLIMIT_NOFILE, &old_);
        }
    }
    descriptor_limit(const descriptor_limit&) = delete;
    descriptor_limit& operator=(const descriptor_limit&) = delete;
    bool ok() const noexcept { return ok_; }

private:
    rlimit old_{};
    bool ok_ = false;
    bool raised_ = false;
};

}  // namespace corio_test
