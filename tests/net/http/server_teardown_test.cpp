// SPDX-License-Identifier: MIT
// corio::http::server when the runtime is torn down under serve(): its connection tasks are
// children of a task_group in serve()'s frame, so they go with that frame, while the server
// they use still exists.
#include "support/http_fixture.hpp"

#include <corio/net/tcp_listener.hpp>

#include <memory>
#include <optional>

namespace {

using namespace corio_test;

task<> connect_and_wait(const server& srv, corio::net::endpoint ep,
                        std::optional<tcp_stream>& client, bool& open) {
    auto s = co_await tcp_stream::connect(ep);
    REQUIRE(s);
    client.emplace(std::move(*s));
    open = co_await turns_until([&srv] { return srv.metrics().open_connections == 1; });
}

}  // namespace

TEST_CASE("http server teardown: a runtime destroyed under serve() ends its connections first") {
    server* self = nullptr;
    auto srv = std::make_unique<server>(test_routes(self));
    self = srv.get();
    auto listener = bind_loopback();
    const auto ep = endpoint_of(listener);
    std::optional<tcp_stream> client;
    bool open = false;
    {
        corio::runtime rt;
        rt.spawn(srv->serve(listener));
        rt.block_on(connect_and_wait(*srv, ep, client, open));
        REQUIRE(open);
        // Destroying the runtime destroys serve()'s frame, and with it the connection's task.
    }
    CHECK(srv->metrics().open_connections == 0);
    srv.reset();  // nothing of the server is used after this (ASan would tell)
}
