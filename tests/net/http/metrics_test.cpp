// SPDX-License-Identifier: MIT
// Tests for server_metrics: adding the counters of several servers (one per loop).
#include <corio/http/server.hpp>

#include <catch2/catch.hpp>

namespace {

using corio::http::server_metrics;

server_metrics one_server(std::uint64_t base) {
    server_metrics m;
    m.requests_by_class[2] = base;
    m.requests_by_class[4] = base + 1;
    m.in_flight = base + 2;
    m.open_connections = base + 3;
    m.bytes_in = base * 100;
    m.bytes_out = base * 200;
    m.record_latency(0.0002, base);   // a 250 us bucket
    m.record_latency(20.0, 1);        // +Inf
    return m;
}

TEST_CASE("server_metrics += sums every counter, gauges and the latency histogram included") {
    server_metrics sum = one_server(3);
    sum += one_server(10);
    CHECK(sum.requests_by_class[2] == 13);
    CHECK(sum.requests_by_class[4] == 15);
    CHECK(sum.in_flight == 17);
    CHECK(sum.open_connections == 19);
    CHECK(sum.bytes_in == 1300);
    CHECK(sum.bytes_out == 2600);
    const server_metrics a = one_server(3);
    const server_metrics b = one_server(10);
    for (std::size_t i = 0; i < sum.latency_counts.size(); ++i) {
        CHECK(sum.latency_counts[i] == a.latency_counts[i] + b.latency_counts[i]);
    }
    CHECK(sum.latency_counts.back() == 2);  // one +Inf each
    CHECK(sum.latency_sum_seconds == Approx(a.latency_sum_seconds + b.latency_sum_seconds));
    // The exposition of the sum is the exposition of one server that counted it all.
    server_metrics direct;
    direct.requests_by_class = sum.requests_by_class;
    direct.in_flight = 17;
    direct.open_connections = 19;
    direct.bytes_in = 1300;
    direct.bytes_out = 2600;
    direct.record_latency(0.0002, 13);
    direct.record_latency(20.0, 2);
    CHECK(direct.latency_counts == sum.latency_counts);
}

}  // namespace
