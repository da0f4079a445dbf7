// SPDX-License-Identifier: MIT
// unix_listener: a listening Unix domain stream socket that hands out connected unix_streams.
#pragma once

#include <corio/io_handle.hpp>
#include <corio/net/detail/socket_file.hpp>
#include <corio/net/unix_address.hpp>
#include <corio/net/unix_stream.hpp>
#include <corio/result.hpp>
#include <corio/task.hpp>

#include <stop_token>
#include <string_view>

namespace corio::net {

/// How unix_listener::bind (and unix_datagram::bind) treat the socket file of a path address;
/// an abstract address has no file, and these do nothing for it.
struct unix_bind_options {
    /// Before binding, unlink a socket file left by a socket that is gone: one that refuses a
    /// connection (ECONNREFUSED). A socket something still listens on, and a file that is not
    /// a socket (a regular file, a directory), are never removed: bind then fails with
    /// EADDRINUSE. Off by default, as for every other server library: on, two servers started
    /// at the same moment could both find the old file stale.
    bool remove_stale = false;
    /// Unlink the file bind made when the socket closes (close() or destruction), unless the
    /// path has meanwhile been replaced by another file (checked by device and inode).
    bool unlink_on_close = true;
};

/// Options for unix_listener::bind.
struct unix_listen_options {
    int backlog = 4096;  ///< capped by the kernel at net.core.somaxconn
    unix_bind_options file = {};
};

/// A listening Unix domain stream socket; closes (and by default unlinks its socket file) on
/// destruction. One task accepts at a time; out of descriptors accept() backs off and retries,
/// as tcp_listener does.
class unix_listener {
public:
    unix_listener() noexcept = default;

    /// Creates, binds (see unix_bind_options) and listens. Errors: EADDRINUSE (a live socket or
    /// another file at the path, or an abstract name in use), ENOENT/EACCES/ENOTDIR for the
    /// path's directory, std::errc::invalid_argument for an unnamed address or a negative
    /// backlog, EMFILE/ENFILE.
    static result<unix_listener> bind(const unix_address& local, unix_listen_options options = {});

    /// Waits for the next connection. Errors: operation_canceled (nothing was accepted: a
    /// waiting client stays in the backlog), errc::closed, and accept(2)'s other errors
    /// (ECONNABORTED is skipped; EMFILE/ENFILE back off as in tcp_listener::accept, as does a
    /// descriptor select cannot watch, which is sent `refusal` and closed). A second
    /// concurrent accept throws usage_error.
    task<result<unix_stream>> accept(std::stop_token token = {}, std::string_view refusal = {});

    /// The bound address. Errors: the OS's (EBADF once closed).
    result<unix_address> local_address() const;
    /// Closes the socket, then unlinks its file (with unlink_on_close). Errors: close(2)'s.
    result<void> close() noexcept;
    bool is_open() const noexcept { return h_.is_open(); }
    io_handle& handle() noexcept { return h_; }

private:
    unix_listener(io_handle h, detail::socket_file file) noexcept
        : file_(std::move(file)), h_(std::move(h)) {}
    detail::socket_file file_;  // declared first: destroyed after h_ closed the socket
    io_handle h_;
};

}  // namespace corio::net
