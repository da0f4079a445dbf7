// SPDX-License-Identifier: MIT
// server: the accept loop, graceful shutdown, and one connection's read-parse-answer loop.
#include <corio/http/server.hpp>

#include <corio/cancel.hpp>
#include <corio/event.hpp>
#include <corio/runtime.hpp>
#include <corio/stop_timer.hpp>
#include <corio/task_group.hpp>

#include "http/connection.hpp"

#include <stop_token>
#include <string_view>
#include <utility>

namespace corio::http {
namespace {

// After stop(): waits for every connection to end, at most shutdown_grace, then cuts those still
// open (their waits, handlers' included, are cancelled) and waits for their tasks to unwind.
// Each connection's destructor unlinks it from the server's state, so once this returns no
// connection task uses the server any more.
task<> drain(server::state& st) {
    if (st.metrics.open_connections == 0) {
        co_return;
    }
    st.all_closed.reset();
    std::stop_source grace_over;
    stop_timer grace(grace_over);
    grace.arm(st.options.shutdown_grace);
    (void)co_await st.all_closed.wait(grace_over.get_token());
    if (st.metrics.open_connections == 0) {
        co_return;
    }
    for (detail::connection* c = st.connections; c; c = c->next) {
        c->stop.request_stop();
    }
    (void)co_await st.all_closed.wait();
}

// For a client the listener accepted but the loop cannot watch (select, descriptor >=
// FD_SETSIZE): a full response, so the client knows to come back rather than seeing a close.
constexpr std::string_view unwatchable_reply =
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\n\r\n"
    "Service Unavailable\n";

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
    co_await with_stop_token(c.stop.get_token(), detail::run_connection(c));
}

task<result<void>> server::serve(net::tcp_listener& listener, std::stop_token token) {
    state& st = *state_;
    // Cancelling the task that awaits serve() (with_timeout, say) ends accepting as `token` does.
    const std::stop_token ambient = co_await this_task::stop_token();
    // The connection tasks are children of this frame's group, not detached: should this frame
    // be destroyed before the drain below ends (a runtime torn down under serve()), the group
    // destroys them first, so none is left running on a server its owner may then destroy.
    task_group connections;
    st.listener = &listener;
    result<void> outcome;
    while (!st.stopping) {
        auto s = co_await listener.accept(token, unwatchable_reply);
        if (!s) {
            if (s.error() != errc::closed && s.error() != std::errc::operation_canceled) {
                outcome = s.error();
            }
            break;
        }
        connections.spawn(serve_connection(std::move(*s)));
    }
    stop();
    st.listener = nullptr;
    // The drain runs under a token nothing can stop: were it to follow ours, the cancellation
    // that ended the loop above would cut its waits short too, and serve() would return while
    // connection tasks still use the server, which its caller may then destroy.
    co_await with_stop_token({}, drain(st));
    co_await connections.join();  // at once: the drain saw every connection end
    if (outcome && (token.stop_requested() || ambient.stop_requested())) {
        outcome = std::errc::operation_canceled;  // cancelled, not stopped: say so
    }
    co_return outcome;
}

}  // namespace corio::http
