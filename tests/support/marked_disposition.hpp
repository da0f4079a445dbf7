// SPDX-License-Identifier: MIT
// marked_disposition: a recognisable signal disposition for one scope, to check that corio
// installs its handler and restores what it found.
#pragma once

#include <catch2/catch.hpp>

#include <csignal>

namespace corio_test {

// Does nothing: a disposition the tests can recognise, which is harmless if a signal arrives.
inline void marker_handler(int) {}

// Installs marker_handler for `sig` while it lives, then restores what was there before.
class marked_disposition {
public:
    explicit marked_disposition(int sig) : sig_(sig) {
        struct sigaction sa {};
        sa.sa_handler = marker_handler;
        sigemptyset(&sa.sa_mask);
        REQUIRE(::sigaction(sig_, &sa, &saved_) == 0);
    }
    marked_disposition(const marked_disposition&) = delete;
    marked_disposition& operator=(const marked_disposition&) = delete;
    ~marked_disposition() { ::sigaction(sig_, &saved_, nullptr); }

    /// Whether the disposition of the signal is marker_handler right now.
    bool in_place() const {
        struct sigaction now {};
        ::sigaction(sig_, nullptr, &now);
        return now.sa_handler == marker_handler;
    }

private:
    int sig_;
    struct sigaction saved_ {};
};

}  // namespace corio_test
