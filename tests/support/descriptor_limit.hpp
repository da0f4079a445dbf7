// SPDX-License-Identifier: MIT
// descriptor_limit: a raised RLIMIT_NOFILE for the length of one test.
#pragma once

#include <sys/resource.h>

// UBSan's vptr check (part of -fsanitize=undefined) probes memory through a new pipe on every
// cache miss (sanitizer_common's IsAccessibleMemoryRange). With no descriptor free, the pipe
// fails and it reports a false "invalid vptr" and aborts, so a sanitized build cannot run out of
// descriptors. The weak declarations are null unless the UBSan runtime is linked in.
extern "C" __attribute__((weak)) void __ubsan_handle_dynamic_type_cache_miss(void*, void*,
                                                                             unsigned long);
extern "C" __attribute__((weak)) void __ubsan_handle_dynamic_type_cache_miss_abort(void*, void*,
                                                                                   unsigned long);

namespace corio_test {

/// True under UBSan's vptr check, which cannot run with no descriptor free (see above): tests
/// that exhaust descriptors skip then.
inline bool vptr_checks_need_descriptors() {
    return __ubsan_handle_dynamic_type_cache_miss != nullptr ||
           __ubsan_handle_dynamic_type_cache_miss_abort != nullptr;
}

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
