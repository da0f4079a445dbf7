// SPDX-License-Identifier: MIT
// corio::async_stream: TCP streams are streams that readers and copies accept; other types are not.
#include <corio/net/tcp_stream.hpp>
#include <corio/stream.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace {
struct read_only {
    corio::io_operation<corio::detail::recv_op> recv(std::span<std::byte>, std::stop_token);
};
}  // namespace

TEST_CASE("tcp_stream is an async_stream; a type without send or shutdown is not",
          "[stream_concept_test]") {
    STATIC_REQUIRE(corio::async_stream<corio::net::tcp_stream>);
    STATIC_REQUIRE(corio::async_read_stream<read_only>);
    STATIC_REQUIRE_FALSE(corio::async_write_stream<read_only>);
    STATIC_REQUIRE_FALSE(corio::async_read_stream<std::string>);
    STATIC_REQUIRE(std::is_same_v<corio::net::shutdown_how, corio::shutdown_how>);
}
