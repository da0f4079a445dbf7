// SPDX-License-Identifier: MIT
// server: the accept loop, graceful shutdown, and one connection's read-parse-answer loop.
#include <corio/http/server.hpp>

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/runtime.hpp>

#include "http/connection.hpp"

#include <utility>

namespace corio::http {
namespace {
task<result<void>> wait_for(event& e) { co_return co_await e.wait(); }
}  // namespace

server::server(router routes, server_options options)
    : state_(std::make_unique<state>(std::move(routes), std::move(options))) {}

server::~server() = default;

const server_metrics& server::metrics() const noexcept { return state_->metrics; }

void server::stop() noexcept {
    state& st = *state_;
    if (st.stopping) {
        return;
    }
    st.stopping = true;
    if (st.listener) {
        (void)st.listener->close();  // the pending accept resumes with errc::closed
    }
    for (detail::connection* c = st.connections; c; c = c->next) {
        if (!c->busy && !c->in_request && !c->writing) {
            c->stop.request_stop();  // idle: nothing in flight to finish
        }
    }
}

task<> server::serve_connection(net::tcp_stream stream) {
    detail::connection c(*state_, std::move(stream));
    // Everything the connection awaits follows its stop token: timeouts and a forced shutdown
    // cancel a handler's waits too.
    const std::stop_token token = c.stop.get_token();
    task<> t = detail::run_connection(c);
    t.handle().promise().set_ambient_stop(&token);
    co_await std::move(t);
}

task<result<void>> server::serve(net::tcp_listener& listener) {
    state& st = *state_;
    st.listener = &listener;
    result<void> outcome;
    while (!st.stopping) {
        auto s = co_await listener.accept();
        if (!s) {
            if (s.error() != errc::closed && s.error() != std::errc::operation_canceled) {
                outcome = s.error();
            }
            break;
        }
        spawn(serve_connection(std::move(*s)));
    }
    stop();
    st.listener = nullptr;
    if (st.metrics.open_connections > 0) {
        st.all_closed.reset();
        auto drained = co_await with_timeout(st.options.shutdown_grace, wait_for(st.all_closed));
        if (!drained) {  // cut what is still open, then wait for the tasks to unwind
            for (detail::connection* c = st.connections; c; c = c->next) {
                c->stop.request_stop();
            }
            if (st.metrics.open_connections > 0) {
                (void)co_await st.all_closed.wait();
            }
        }
    }
    co_return outcome;
}

}  // namespace corio::http
