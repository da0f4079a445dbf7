// SPDX-License-Identifier: MIT
// unix_listener: bind (stale socket files, unlink on close), listen and accept.
#include <corio/net/unix_listener.hpp>

#include "stream_ops.hpp"
#include "unix_socket.hpp"

#include <cerrno>

#include <sys/socket.h>

namespace corio::net {

result<unix_listener> unix_listener::bind(const unix_address& local, unix_listen_options options) {
    if (options.backlog < 0) {
        return std::errc::invalid_argument;
    }
    auto fd = detail::open_unix_socket(SOCK_STREAM);
    if (!fd) {
        return fd.error();
    }
    io_handle h(*fd);
    auto file = detail::bind_unix(*fd, SOCK_STREAM, local,
                                  {options.file.remove_stale, options.file.unlink_on_close});
    if (!file) {
        return file.error();
    }
    if (::listen(*fd, options.backlog) != 0) {
        return std::error_code(errno, std::system_category());  // `file` unlinks what bind made
    }
    return unix_listener(std::move(h), std::move(*file));
}

task<result<unix_stream>> unix_listener::accept(std::stop_token token, std::string_view refusal) {
    auto fd = co_await detail::accept_connection(h_, std::move(token), refusal);
    if (!fd) {
        co_return fd.error();
    }
    co_return unix_stream(io_handle(*fd));
}

result<unix_address> unix_listener::local_address() const {
    return detail::unix_socket_address(h_.fd(), true);
}

result<void> unix_listener::close() noexcept { return detail::close_bound(h_, file_); }

}  // namespace corio::net
