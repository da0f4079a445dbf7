// SPDX-License-Identifier: MIT
// open_event_loop: an event_loop on the backend under test, for the event_loop tests.
#pragma once

#include <corio/event_loop.hpp>

#include <catch2/catch.hpp>

#include <utility>

namespace corio_test {

/// A loop on the backend under test (CORIO_BACKEND), or the test stops here.
inline corio::event_loop open_event_loop() {
    auto loop = corio::event_loop::open();
    REQUIRE(loop);
    return std::move(*loop);
}

}  // namespace corio_test
