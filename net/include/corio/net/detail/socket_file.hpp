// SPDX-License-Identifier: MIT
// socket_file: the file a Unix socket bound to, removed when its socket closes (private to
// unix_listener and unix_datagram; included by their headers only).
#pragma once

#include <corio/io_handle.hpp>
#include <corio/result.hpp>

#include <string>
#include <utility>

namespace corio::net::detail {

/// The path a socket was bound to and the identity (device, inode) of the file bind made.
/// remove() unlinks the path only while it still names that file: a socket file another
/// server has bound there since is left alone.
class socket_file {
public:
    socket_file() noexcept = default;
    socket_file(std::string path, unsigned long long dev, unsigned long long ino) noexcept
        : path_(std::move(path)), dev_(dev), ino_(ino) {}
    socket_file(socket_file&& o) noexcept
        : path_(std::exchange(o.path_, {})), dev_(o.dev_), ino_(o.ino_) {}
    socket_file& operator=(socket_file&& o) noexcept {
        if (this != &o) {
            remove();
            path_ = std::exchange(o.path_, {});
            dev_ = o.dev_;
            ino_ = o.ino_;
        }
        return *this;
    }
    socket_file(const socket_file&) = delete;
    socket_file& operator=(const socket_file&) = delete;
    ~socket_file() { remove(); }

    /// Unlinks the file if it is still the one bind made; afterwards owns nothing. Best effort.
    void remove() noexcept;

private:
    std::string path_;  // empty: nothing to remove
    unsigned long long dev_ = 0;
    unsigned long long ino_ = 0;
};

/// A bound socket's close(): the socket first (so no client reaches a file about to go), then
/// its file. Errors: close(2)'s; the file is removed regardless.
inline result<void> close_bound(io_handle& h, socket_file& file) noexcept {
    auto closed = h.close();
    file.remove();
    return closed;
}

}  // namespace corio::net::detail
