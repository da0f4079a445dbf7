// SPDX-License-Identifier: MIT
// Tests for corio/result.hpp: a value or an error_code, and usage_error on misuse.
#include <corio/result.hpp>

#include <catch2/catch.hpp>

#include <corio/error.hpp>

#include <memory>
#include <string>
#include <system_error>
#include <utility>

namespace {

TEST_CASE("a result holding a value reports success and hands the value out") {
    corio::result<std::string> r = std::string("value");
    CHECK(r.has_value());
    CHECK(static_cast<bool>(r));
    CHECK(r.value() == "value");
    CHECK(*r == "value");
    CHECK(r->size() == 5);
    CHECK_FALSE(r.error());
    CHECK(r.value_or("fallback") == "value");
}

TEST_CASE("a result holding an error reports it and value() throws usage_error") {
    corio::result<int> r = std::errc::connection_refused;
    CHECK_FALSE(r.has_value());
    CHECK_FALSE(static_cast<bool>(r));
    CHECK(r.error() == std::errc::connection_refused);
    CHECK(r.error().category() == std::generic_category());
    CHECK(r.value_or(-1) == -1);
    CHECK_THROWS_AS(r.value(), corio::usage_error);
    CHECK_THROWS_AS(*r, corio::usage_error);
}

TEST_CASE("an OS error keeps its errno in the system category") {
    corio::result<int> r = std::error_code(ECONNRESET, std::system_category());
    CHECK(r.error() == std::errc::connection_reset);
    CHECK(r.error().category() == std::system_category());
}

TEST_CASE("a result can hold corio's own error conditions") {
    corio::result<int> r = corio::errc::closed;
    CHECK(r.error() == corio::errc::closed);
    CHECK(r.error().category() == corio::error_category());
}

TEST_CASE("a result holds move-only values and gives them up by move") {
    corio::result<std::unique_ptr<int>> r = std::make_unique<int>(3);
    std::unique_ptr<int> p = std::move(r).value();
    REQUIRE(p);
    CHECK(*p == 3);
    corio::result<std::unique_ptr<int>> e = std::errc::timed_out;
    CHECK(std::move(e).value_or(nullptr) == nullptr);
}

TEST_CASE("a value convertible to T is stored as a value, not as an error") {
    corio::result<std::string> r = "text";
    REQUIRE(r);
    CHECK(*r == "text");
    corio::result<long> n = 5;
    REQUIRE(n);
    CHECK(*n == 5);
}

TEST_CASE("result<void> is success by default and holds only an error code otherwise") {
    corio::result<void> ok;
    CHECK(ok.has_value());
    CHECK_NOTHROW(ok.value());
    CHECK_FALSE(ok.error());
    corio::result<void> failed = std::errc::operation_canceled;
    CHECK_FALSE(failed);
    CHECK(failed.error() == std::errc::operation_canceled);
    CHECK_THROWS_AS(failed.value(), corio::usage_error);
    corio::result<void> closed = corio::errc::closed;
    CHECK(closed.error() == corio::errc::closed);
}

TEST_CASE("value() on an error names the error in the usage_error message") {
    corio::result<int> r = std::errc::timed_out;
    CHECK_THROWS_WITH(r.value(), Catch::Matchers::Contains(
                                     std::make_error_code(std::errc::timed_out).message()));
}

}  // namespace
