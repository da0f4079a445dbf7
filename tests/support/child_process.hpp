// SPDX-License-Identifier: MIT
// run_in_child: runs a test body in a forked child, so a fatal signal fails the test with its
// name instead of killing the test runner.
#pragma once

#include <catch2/catch.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <initializer_list>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace corio_test {

/// Runs `body` in a child process in which each of `default_signals` takes its default action
/// (as in a program that never touched it) and returns how the child ended: "exit N" (N is
/// what `body` returned; 101 if it threw) or "killed by signal S (name)". The child has 30 s;
/// then SIGALRM ends it.
template <class Body>
std::string run_in_child(Body body, std::initializer_list<int> default_signals) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        for (int sig : default_signals) {
            ::signal(sig, SIG_DFL);
        }
        ::alarm(30);
        int code = 101;
        try {
            code = body();
        } catch (...) {
            code = 101;
        }
        ::_exit(code);  // not exit(): the parent's Catch2 state and buffers are not ours
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        REQUIRE(errno == EINTR);
    }
    if (WIFSIGNALED(status)) {
        return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
               ::strsignal(WTERMSIG(status)) + ")";
    }
    return "exit " + std::to_string(WEXITSTATUS(status));
}

}  // namespace corio_test
