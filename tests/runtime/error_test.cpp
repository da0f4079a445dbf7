// SPDX-License-Identifier: MIT
// Tests for corio/error.hpp: corio's error category and usage_error.
#include <corio/error.hpp>

#include <catch2/catch.hpp>

#include <set>
#include <stdexcept>
#include <string>
#include <system_error>

namespace {

TEST_CASE("corio::errc values convert to error codes in corio's own category") {
    std::error_code e = corio::errc::backend_unavailable;
    CHECK(e.category() == corio::error_category());
    CHECK(std::string(e.category().name()) == "corio");
    CHECK(e == corio::errc::backend_unavailable);
    CHECK(e != corio::errc::closed);
    CHECK(e.value() != 0);  // an error, never success
}

TEST_CASE("every corio::errc has its own readable message") {
    std::set<std::string> messages;
    for (corio::errc e : {corio::errc::fd_set_overflow, corio::errc::backend_unavailable,
                          corio::errc::unexpected_eof, corio::errc::invalid_address,
                          corio::errc::closed}) {
        const std::string m = make_error_code(e).message();
        CAPTURE(m);
        CHECK_FALSE(m.empty());
        CHECK(m != "unknown corio error");
        messages.insert(m);
    }
    CHECK(messages.size() == 5);
}

TEST_CASE("corio's conditions do not compare equal to OS errors of the same number") {
    const std::error_code mine = corio::errc::fd_set_overflow;
    const std::error_code os(mine.value(), std::system_category());
    CHECK(mine != os);
}

TEST_CASE("usage_error is a logic_error carrying its message") {
    try {
        throw corio::usage_error("awaited twice");
    } catch (const std::logic_error& e) {
        CHECK(std::string(e.what()) == "awaited twice");
    }
}

}  // namespace
