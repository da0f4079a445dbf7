// SPDX-License-Identifier: MIT
// corio::http::response: status checks, the Content-Type (inline or long, replaced not repeated),
// header validation against response splitting, and moves that keep every part.
#include <corio/http/response.hpp>

#include <catch2/catch.hpp>

#include <corio/error.hpp>

#include <string>
#include <utility>

using corio::http::response;

TEST_CASE("response: a status outside 100..599 is a usage error") {
    CHECK_THROWS_AS(response(99), corio::usage_error);
    CHECK_THROWS_AS(response(600), corio::usage_error);
    CHECK(response(599).status() == 599);
}

TEST_CASE("response: the default Content-Type is text/plain, and setting it replaces it") {
    response r(200, "x");
    CHECK(r.content_type() == "text/plain; charset=utf-8");
    r.content_type("text/html");
    CHECK(r.content_type() == "text/html");
    r.header("content-type", "application/json");  // any case: still the one Content-Type
    CHECK(r.content_type() == "application/json");
    CHECK(r.fields().empty());
    r.content_type("");
    CHECK(r.content_type().empty());
    r.content_type(std::string_view{});  // a null view (UBSan checks what memcpy gets)
    CHECK(r.content_type().empty());
    CHECK(response(204, {}, {}).content_type().empty());
}

TEST_CASE("response: a Content-Type longer than the inline space is kept whole") {
    const std::string type = "multipart/form-data; boundary=" + std::string(80, 'b');
    response r(200, {}, type);
    CHECK(r.content_type() == type);
    r.content_type("text/css");  // and a short one after it replaces it
    CHECK(r.content_type() == "text/css");
}

TEST_CASE("response: header values with CR, LF or NUL and bad names are refused") {
    response r(200);
    CHECK_THROWS_AS(r.header("X-A", "a\r\nSet-Cookie: x"), corio::usage_error);
    CHECK_THROWS_AS(r.header("X-A", std::string("a\0b", 3)), corio::usage_error);
    CHECK_THROWS_AS(r.header("X A", "v"), corio::usage_error);
    CHECK_THROWS_AS(r.header("", "v"), corio::usage_error);
    CHECK_THROWS_AS(r.content_type("text/plain\nX: y"), corio::usage_error);
    CHECK_THROWS_AS(response(200, {}, "a\rb"), corio::usage_error);
    CHECK(r.fields().empty());  // nothing of a refused field was kept
}

TEST_CASE("response: the fields the server writes cannot be set by a handler") {
    response r(200);
    for (const char* name : {"Content-Length", "transfer-encoding", "Connection", "DATE", "Server"}) {
        CHECK_THROWS_AS(r.header(name, "1"), corio::usage_error);
    }
    r.header("Allow", "GET, HEAD").header("Cache-Control", "no-store");
    CHECK(r.fields() == "Allow: GET, HEAD\r\nCache-Control: no-store\r\n");
}

TEST_CASE("response: moving keeps status, type, fields, body and chunking") {
    const std::string long_type = "text/plain; " + std::string(60, 'p');
    for (const std::string& type : {std::string("text/html"), long_type}) {
        response a(201, "body", type);
        a.header("X-Id", "7").chunked();
        response b(std::move(a));
        response c;
        c = std::move(b);
        CHECK(c.status() == 201);
        CHECK(c.content_type() == type);
        CHECK(c.fields() == "X-Id: 7\r\n");
        CHECK(c.body() == "body");
        CHECK(c.is_chunked());
    }
}
