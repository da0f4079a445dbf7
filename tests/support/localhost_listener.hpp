// SPDX-License-Identifier: MIT
// bind_localhost: a listener that every address "localhost" may resolve to reaches.
#pragma once

#include <corio/net/address.hpp>
#include <corio/net/tcp_listener.hpp>

#include "support/net_loopback.hpp"

#include <utility>

namespace corio_test {

/// A listener on port 0 that both 127.0.0.1 and ::1 reach: a dual-stack one on [::] where the
/// machine has IPv6, else one on 127.0.0.1 (and localhost is then only 127.0.0.1). So a test
/// connecting to "localhost" needs no attempt to be refused, whatever /etc/hosts lists first
/// (libkqueue, which clears a refused connect's error, would report a refused one connected).
inline corio::net::tcp_listener bind_localhost() {
    corio::net::listen_options options;
    options.v6_only = false;
    auto dual = corio::net::tcp_listener::bind({corio::net::ip_address::v6_any(), 0}, options);
    if (dual) {
        return std::move(*dual);
    }
    return bind_loopback();
}

}  // namespace corio_test
