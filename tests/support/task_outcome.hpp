// SPDX-License-Identifier: MIT
// What the tasks of a composition test did: how a child's wait ended, what a task threw.
#pragma once

#include <corio/task.hpp>

#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace corio_test {

/// How a child ended: the error its wait resumed with, and whether it ended at all.
struct ending {
    std::error_code error;
    bool ended = false;
};

/// Awaits `t` and returns the message of the std::runtime_error it threw, or "nothing thrown".
template <class T>
corio::task<std::string> what_it_threw(corio::task<T> t) {
    try {
        (void)co_await std::move(t);
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "nothing thrown";
}

}  // namespace corio_test
