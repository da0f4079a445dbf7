// SPDX-License-Identifier: MIT
// pipe_reader / pipe_writer: adopting descriptors, shutdown, make_pipe, and the write op.
#include <corio/pipe.hpp>

#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace corio {
namespace {

std::error_code last_error() noexcept {
    return {errno, std::system_category()};
}

// Checks that `fd` can be waited on and makes it non-blocking and close-on-exec.
result<void> prepare(int fd) noexcept {
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) {
        return fd < 0 ? std::error_code(EBADF, std::system_category()) : last_error();
    }
    // epoll refuses regular files and directories (EPERM), and they are always "ready".
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        return std::errc::invalid_argument;
    }
    const int fd_flags = ::fcntl(fd, F_GETFD);
    if (fd_flags < 0 || ::fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) != 0) {
        return last_error();
    }
    return detail::sys_set_nonblocking(fd);
}

}  // namespace

result<std::size_t> detail::write_op::operator()() const noexcept {
    for (;;) {
        const ssize_t n = ::write(fd, buf.data(), buf.size());
        if (n >= 0) {
            return static_cast<std::size_t>(n);
        }
        if (errno != EINTR) {
            return last_error();
        }
    }
}

result<pipe_reader> pipe_reader::adopt(int fd) noexcept {
    if (auto p = prepare(fd); !p) {
        return p.error();
    }
    return pipe_reader(fd);
}

result<pipe_writer> pipe_writer::adopt(int fd) noexcept {
    if (auto p = prepare(fd); !p) {
        return p.error();
    }
    return pipe_writer(fd);
}

result<void> pipe_reader::shutdown(shutdown_how how) noexcept {
    if (how == shutdown_how::send) {
        return std::errc::invalid_argument;
    }
    return close();
}

result<void> pipe_writer::shutdown(shutdown_how how) noexcept {
    if (how == shutdown_how::receive) {
        return std::errc::invalid_argument;
    }
    return close();
}

result<pipe_ends> make_pipe() noexcept {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        return last_error();
    }
    return pipe_ends(fds[0], fds[1]);
}

}  // namespace corio
