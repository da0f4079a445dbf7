// SPDX-License-Identifier: MIT
// owned_fd: a descriptor received from another process (unix_stream::recv_fds), closed when
// its owner goes away so none leaks.
#pragma once

#include <utility>

namespace corio::net {

/// Owns one descriptor and closes it on destruction; release() hands it over (for example
/// to an io_handle, or to a stream's constructor). Move-only.
class owned_fd {
public:
    owned_fd() noexcept = default;
    /// Takes ownership of `fd` (-1: none).
    explicit owned_fd(int fd) noexcept : fd_(fd) {}
    owned_fd(owned_fd&& o) noexcept : fd_(o.release()) {}
    owned_fd& operator=(owned_fd&& o) noexcept {
        if (this != &o) {
            reset(o.release());
        }
        return *this;
    }
    owned_fd(const owned_fd&) = delete;
    owned_fd& operator=(const owned_fd&) = delete;
    ~owned_fd() { reset(); }

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    /// Gives up ownership; returns the descriptor (-1 if none).
    int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the descriptor held (errors of close(2) are ignored: it is released regardless)
    /// and takes `fd` instead.
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

}  // namespace corio::net
