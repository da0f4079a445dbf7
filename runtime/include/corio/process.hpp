// SPDX-License-Identifier: MIT
// process::spawn: child processes with async stdio pipes, waited for in the loop.
#pragma once

#include <corio/pipe.hpp>
#include <corio/result.hpp>
#include <corio/task.hpp>

#include <csignal>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

namespace corio::process {

/// What a child's stdin, stdout or stderr is connected to.
enum class stdio {
    inherit,  ///< the parent's own descriptor (0, 1 or 2)
    null,     ///< /dev/null
    pipe,     ///< a new pipe; the parent's end is child::stdin_pipe / stdout_pipe / stderr_pipe
};

/// How spawn() starts a child. Every member has a default: `{.out = stdio::pipe}` compiles.
struct options {
    stdio in = stdio::inherit;
    stdio out = stdio::inherit;
    stdio err = stdio::inherit;
    /// The child's working directory (empty: the parent's). A relative program path
    /// ("./tool") is then found from this directory, as exec after chdir would.
    std::string cwd{};
    /// Start from an empty environment instead of a copy of the parent's.
    bool clear_env = false;
    /// Changes to the environment, applied in order: {name, value} sets, {name, nullopt} unsets.
    std::vector<std::pair<std::string, std::optional<std::string>>> env{};
    /// A wait() that is cancelled kills the child (SIGKILL) and reaps it before it returns
    /// operation_canceled (unless the kill is refused, EPERM: a setuid program; it then stays
    /// waitable). Without it, a cancelled wait leaves the child running and waitable.
    bool kill_on_cancel = false;
    /// A child destroyed before it was reaped is killed (SIGKILL) first. Either way it is reaped.
    bool kill_on_drop = false;

    /// Sets `name` to `value` in the child's environment.
    options& set_env(std::string name, std::string value) {
        env.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    /// Removes `name` from the child's environment.
    options& unset_env(std::string name) {
        env.emplace_back(std::move(name), std::nullopt);
        return *this;
    }
};

/// How a child ended: exited with a code, or killed by a signal.
class exit_status {
public:
    static constexpr exit_status exited(int code) noexcept { return {false, code}; }
    static constexpr exit_status signaled(int signal) noexcept { return {true, signal}; }

    /// Exited with code 0.
    constexpr bool success() const noexcept { return !signaled_ && value_ == 0; }
    /// The exit code (0-255), if it exited.
    constexpr std::optional<int> code() const noexcept {
        return signaled_ ? std::nullopt : std::optional<int>(value_);
    }
    /// The signal that ended it, if one did.
    constexpr std::optional<int> signal() const noexcept {
        return signaled_ ? std::optional<int>(value_) : std::nullopt;
    }
    friend constexpr bool operator==(exit_status, exit_status) noexcept = default;

private:
    constexpr exit_status(bool signaled, int value) noexcept : signaled_(signaled), value_(value) {}
    bool signaled_;
    int value_;
};

/// "exit code 3", "killed by signal 9 (Killed)".
std::string to_string(exit_status s);

/// A running (or finished, not yet reaped) child process and the parent's ends of its pipes.
///
/// Waiting uses a pidfd (Linux 5.3+) through the loop's reactor, on every backend; where
/// pidfd_open is unavailable, a SIGCHLD listener (corio::signal_listener, one per pending wait,
/// at most 64 listeners in all). Either way only this child's pid is reaped: corio never calls
/// waitpid(-1), so other children of the program are left to it. Do not set SIGCHLD to SIG_IGN
/// (the kernel then reaps children itself and wait() reports ECHILD).
///
/// Destroyed before it was reaped, the child is reaped in the background (killed first with
/// options::kill_on_drop): a process-wide reaper thread, started at the first such child, waits
/// on its pidfd (without pidfds it waits for each in turn), so no zombie stays behind.
/// Use a child on one loop; destroy it on that loop's thread while a wait() is pending.
class child {
public:
    /// Empty: wait() and kill() on it throw usage_error.
    child() noexcept = default;
    child(child&&) = default;
    /// Reaps (in the background) the child this object held, as the destructor does.
    child& operator=(child&& other);
    child(const child&) = delete;
    child& operator=(const child&) = delete;
    /// See the class comment: a child not yet reaped is reaped in the background.
    ~child();

    /// The parent's end of the child's stdin (open when options::in was stdio::pipe). Closing it
    /// (or shutdown(shutdown_how::send)) gives the child end of file.
    pipe_writer stdin_pipe;
    /// The parent's ends of the child's stdout and stderr (with stdio::pipe).
    pipe_reader stdout_pipe;
    pipe_reader stderr_pipe;

    /// The child's process id (still the same after it was reaped, when the number may belong
    /// to another process: use kill(), not ::kill(id(), ...)).
    int id() const noexcept;

    /// Waits until the child has exited and reaps it; returns how it ended. After that, wait()
    /// returns the same status again at once. The child object must outlive the wait.
    /// Errors: operation_canceled (`token` or the task's ambient token stopped; with
    /// options::kill_on_cancel the child was killed and reaped first, else it still runs and
    /// can be waited for again), errc::closed (the child object was destroyed or assigned to
    /// meanwhile), ECHILD (someone else reaped it: waitpid(-1), or SIGCHLD set to SIG_IGN),
    /// EBUSY (SIGCHLD path: 64 signal listeners are open). One wait at a time: a second
    /// concurrent wait, or a wait on an empty child, throws usage_error.
    task<result<exit_status>> wait(std::stop_token token = {});

    /// Reaps the child if it has exited, without suspending: its status, nullopt if it still
    /// runs. Errors: ECHILD (as wait()). Throws usage_error on an empty child.
    result<std::optional<exit_status>> try_wait();

    /// Sends `signal` to the child (through its pidfd where there is one, so never to another
    /// process that got its number). Errors: ESRCH once the child has been reaped (by wait() or
    /// try_wait()), and possibly once it has exited; EINVAL for an invalid signal number.
    /// Throws usage_error on an empty child.
    result<void> kill(int signal = SIGKILL);

    struct state;  // internal (runtime/src/process_state.hpp)

private:
    friend result<child> spawn(const std::vector<std::string>& argv, const options& opts);
    explicit child(std::shared_ptr<state> s) noexcept : state_(std::move(s)) {}
    void drop() noexcept;
    static task<result<exit_status>> wait_on(std::shared_ptr<state> s, std::stop_token token);
    static task<result<exit_status>> reap_after_kill(std::shared_ptr<state> s);

    // Shared with a running wait(), so destroying the child meanwhile leaves that wait a valid
    // state to finish on (it then reports errc::closed).
    std::shared_ptr<state> state_;
};

/// Starts `argv[0]` with arguments `argv` (a name without '/' is looked up in PATH: the
/// child's PATH when options::env sets or unsets it, or clear_env is set, else the parent's;
/// "/bin:/usr/bin" when there is none). In the child, the signal mask is empty and SIGPIPE has
/// its default action (whatever the parent blocks or ignores); every descriptor corio makes is
/// close-on-exec, so the child gets only its stdin, stdout and stderr (and what the program
/// itself opened without O_CLOEXEC). Needs no runtime; the child's wait() and pipes do.
/// Errors, as values (the child did not start): ENOENT (no such program, or no such cwd),
/// EACCES (not executable, or a directory on the way not searchable), ENOTDIR, ENOEXEC,
/// E2BIG, EINVAL (empty argv, an argument or variable with a NUL byte, an environment name
/// that is empty or contains '='), EMFILE/ENFILE/EAGAIN/ENOMEM (out of descriptors or processes).
result<child> spawn(const std::vector<std::string>& argv, const options& opts = {});

}  // namespace corio::process
