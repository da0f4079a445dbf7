// SPDX-License-Identifier: MIT
// process::spawn: argument checks, the environment, the PATH lookup, stdio, posix_spawn.
#include <corio/process.hpp>

#include "process_state.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string_view>
#include <system_error>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char** environ;

namespace corio {
namespace detail {
namespace {
std::atomic<bool> pidfd_on{true};
}  // namespace

void set_pidfd_enabled(bool enabled) noexcept {
    pidfd_on.store(enabled);
}
bool pidfd_enabled() noexcept {
    return pidfd_on.load();
}
}  // namespace detail

namespace process {
namespace {

std::error_code last_error() noexcept {
    return {errno, std::system_category()};
}

bool has_nul(std::string_view s) noexcept {
    return s.find('\0') != std::string_view::npos;
}

// A descriptor that closes itself unless released.
struct owned_fd {
    int fd = -1;
    owned_fd() = default;
    explicit owned_fd(int f) noexcept : fd(f) {}
    owned_fd(owned_fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
    owned_fd& operator=(owned_fd&& o) noexcept {
        std::swap(fd, o.fd);
        return *this;
    }
    ~owned_fd() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

// The child's environment as "NAME=value" strings; nullopt when it is the parent's unchanged.
result<std::optional<std::vector<std::string>>> child_environment(const options& opts) {
    for (const auto& [name, value] : opts.env) {
        if (name.empty() || name.find('=') != std::string::npos || has_nul(name) ||
            (value && has_nul(*value))) {
            return std::errc::invalid_argument;
        }
    }
    if (!opts.clear_env && opts.env.empty()) {
        return std::optional<std::vector<std::string>>();
    }
    std::vector<std::string> vars;
    if (!opts.clear_env) {
        for (char** e = environ; e && *e; ++e) {
            vars.emplace_back(*e);
        }
    }
    for (const auto& [name, value] : opts.env) {
        std::erase_if(vars, [&](const std::string& v) {
            return v.size() > name.size() && v.compare(0, name.size(), name) == 0 &&
                   v[name.size()] == '=';
        });
        if (value) {
            vars.push_back(name + "=" + *value);
        }
    }
    return std::optional<std::vector<std::string>>(std::move(vars));
}

// The PATH the program is looked up in: the child's if its environment was changed.
std::string search_path(const std::optional<std::vector<std::string>>& env) {
    const char* path = nullptr;
    if (!env) {
        path = ::getenv("PATH");
    } else {
        for (const std::string& v : *env) {
            if (v.compare(0, 5, "PATH=") == 0) {
                path = v.c_str() + 5;
            }
        }
    }
    return path ? path : "/bin:/usr/bin";
}

// execvp's lookup, done in the parent so it needs one spawn: the first executable regular
// file named `name` in a directory of `path` (an empty entry is the working directory).
result<std::string> find_program(const std::string& name, const std::string& path) {
    bool denied = false;
    std::size_t begin = 0;
    for (;;) {
        const std::size_t end = std::min(path.find(':', begin), path.size());
        std::string dir = path.substr(begin, end - begin);
        std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
            if (::faccessat(AT_FDCWD, candidate.c_str(), X_OK, AT_EACCESS) == 0) {
                return candidate;
            }
            denied = true;
        } else if (errno == EACCES) {
            denied = true;
        }
        if (end == path.size()) {
            break;
        }
        begin = end + 1;
    }
    return std::error_code(denied ? EACCES : ENOENT, std::system_category());
}

// Moves `fd` to a number above 2 (close-on-exec), so one stdio dup2 cannot overwrite another's
// source when the parent itself runs with 0, 1 or 2 closed.
result<owned_fd> above_stdio(int fd) {
    owned_fd f(fd);
    if (fd > 2) {
        return f;
    }
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0) {
        return last_error();
    }
    return owned_fd(moved);
}

// The child's end of stdio slot `target` (0, 1, 2), or -1 for inherit; the parent's pipe end
// goes to `reader` or `writer`.
result<owned_fd> child_end(stdio mode, int target, pipe_writer& writer, pipe_reader& reader) {
    if (mode == stdio::inherit) {
        return owned_fd();
    }
    if (mode == stdio::null) {
        const int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            return last_error();
        }
        return above_stdio(fd);
    }
    auto p = make_pipe();
    if (!p) {
        return p.error();
    }
    // The child's end blocks, as a program expects of its stdio; the parent's stays non-blocking
    // (each end of a pipe is an open file of its own).
    int fd;
    if (target == 0) {
        fd = p->reader.release();
        writer = std::move(p->writer);
    } else {
        fd = p->writer.release();
        reader = std::move(p->reader);
    }
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        const std::error_code e = last_error();
        ::close(fd);
        return e;
    }
    return above_stdio(fd);
}

// posix_spawn's attributes and file actions, destroyed with it.
struct spawn_setup {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    spawn_setup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~spawn_setup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
    spawn_setup(const spawn_setup&) = delete;
    spawn_setup& operator=(const spawn_setup&) = delete;

    // The child starts with no signal blocked and SIGPIPE at its default action: a loop blocks
    // SIGPIPE on its thread (docs/design.md "SIGPIPE"), and a program may ignore it.
    int reset_signals() {
        sigset_t none, pipe;
        sigemptyset(&none);
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        if (int e = posix_spawnattr_setsigmask(&attr, &none)) {
            return e;
        }
        if (int e = posix_spawnattr_setsigdefault(&attr, &pipe)) {
            return e;
        }
        return posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    }
};

int open_pidfd(int pid) noexcept {
#ifdef SYS_pidfd_open
    if (!detail::pidfd_enabled()) {
        return -1;
    }
    constexpr unsigned pidfd_nonblock = O_NONBLOCK;  // PIDFD_NONBLOCK, Linux 5.10
    long fd = ::syscall(SYS_pidfd_open, pid, pidfd_nonblock);
    if (fd < 0 && errno == EINVAL) {
        fd = ::syscall(SYS_pidfd_open, pid, 0u);
    }
    return fd < 0 ? -1 : static_cast<int>(fd);  // ENOSYS and the like: the SIGCHLD path
#else
    (void)pid;
    return -1;
#endif
}

}  // namespace

result<child> spawn(const std::vector<std::string>& argv, const options& opts) {
    if (argv.empty() || has_nul(opts.cwd)) {
        return std::errc::invalid_argument;
    }
    for (const std::string& a : argv) {
        if (has_nul(a)) {
            return std::errc::invalid_argument;
        }
    }
    auto env = child_environment(opts);
    if (!env) {
        return env.error();
    }
    std::string program = argv[0];
    if (program.find('/') == std::string::npos) {
        auto found = find_program(program, search_path(*env));
        if (!found) {
            return found.error();
        }
        program = std::move(*found);
    }

    child c;
    spawn_setup setup;
    if (int e = setup.reset_signals()) {
        return std::error_code(e, std::system_category());
    }
    const stdio modes[3] = {opts.in, opts.out, opts.err};
    pipe_reader* readers[3] = {nullptr, &c.stdout_pipe, &c.stderr_pipe};
    owned_fd ends[3];
    for (int target = 0; target < 3; ++target) {
        pipe_reader unused;
        auto end = child_end(modes[target], target, c.stdin_pipe,
                             readers[target] ? *readers[target] : unused);
        if (!end) {
            return end.error();
        }
        ends[target] = std::move(*end);
        if (ends[target].fd >= 0) {
            if (int e = posix_spawn_file_actions_adddup2(&setup.actions, ends[target].fd, target)) {
                return std::error_code(e, std::system_category());
            }
        }
    }
    if (!opts.cwd.empty()) {
        if (int e = posix_spawn_file_actions_addchdir_np(&setup.actions, opts.cwd.c_str())) {
            return std::error_code(e, std::system_category());
        }
    }

    std::vector<char*> args;
    for (const std::string& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    std::vector<char*> vars;
    if (*env) {
        for (std::string& v : **env) {
            vars.push_back(v.data());
        }
        vars.push_back(nullptr);
    }
    pid_t pid = -1;
    // glibc's posix_spawn reports a failed chdir or exec as its result, not as a child that exits.
    if (int e = ::posix_spawn(&pid, program.c_str(), &setup.actions, &setup.attr, args.data(),
                              *env ? vars.data() : environ)) {
        return std::error_code(e, std::system_category());
    }

    auto s = std::make_shared<child::state>();
    s->pid = pid;
    s->kill_on_cancel = opts.kill_on_cancel;
    s->kill_on_drop = opts.kill_on_drop;
    if (const int fd = open_pidfd(pid); fd >= 0) {
        s->pidfd = io_handle(fd);
        s->uses_pidfd = true;
    }
    c.state_ = std::move(s);
    return c;
}

}  // namespace process
}  // namespace corio
