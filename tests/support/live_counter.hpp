// SPDX-License-Identifier: MIT
// live_object: counts its live instances in a test's own counter, to prove frames are destroyed.
#pragma once

namespace corio_test {

/// Adds one to `*live` while it exists (copies count too). The counter belongs to the test, so
/// tests share no state.
class live_object {
public:
    explicit live_object(int& live) noexcept : live_(&live) { ++*live_; }
    live_object(const live_object& o) noexcept : live_(o.live_) { ++*live_; }
    live_object& operator=(const live_object&) = delete;
    ~live_object() { --*live_; }

private:
    int* live_;
};

}  // namespace corio_test
