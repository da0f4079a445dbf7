// SPDX-License-Identifier: MIT
// server_metrics: the latency histogram and the Prometheus text format.
#include <corio/http/server.hpp>

#include <fmt/format.h>

#include <iterator>

namespace corio::http {

void server_metrics::record_latency(double seconds, std::uint64_t n) noexcept {
    latency_sum_seconds += seconds * static_cast<double>(n);
    std::size_t i = 0;
    while (i < latency_bounds.size() && seconds > latency_bounds[i]) {
        ++i;
    }
    latency_counts[i] += n;
}

server_metrics& server_metrics::operator+=(const server_metrics& other) noexcept {
    for (std::size_t i = 0; i < requests_by_class.size(); ++i) {
        requests_by_class[i] += other.requests_by_class[i];
    }
    for (std::size_t i = 0; i < latency_counts.size(); ++i) {
        latency_counts[i] += other.latency_counts[i];
    }
    in_flight += other.in_flight;
    open_connections += other.open_connections;
    bytes_in += other.bytes_in;
    bytes_out += other.bytes_out;
    latency_sum_seconds += other.latency_sum_seconds;
    return *this;
}

std::string server_metrics::prometheus_text() const {
    std::string out;
    auto w = std::back_inserter(out);
    fmt::format_to(w, "# HELP corio_http_requests_total Requests answered, by status class.\n"
                      "# TYPE corio_http_requests_total counter\n");
    for (std::size_t k = 1; k < requests_by_class.size(); ++k) {
        fmt::format_to(w, "corio_http_requests_total{{code=\"{}xx\"}} {}\n", k, requests_by_class[k]);
    }
    fmt::format_to(w,
                   "# HELP corio_http_requests_in_flight Requests being handled.\n"
                   "# TYPE corio_http_requests_in_flight gauge\n"
                   "corio_http_requests_in_flight {}\n"
                   "# HELP corio_http_connections_open Open client connections.\n"
                   "# TYPE corio_http_connections_open gauge\n"
                   "corio_http_connections_open {}\n"
                   "# HELP corio_http_received_bytes_total Bytes read from clients.\n"
                   "# TYPE corio_http_received_bytes_total counter\n"
                   "corio_http_received_bytes_total {}\n"
                   "# HELP corio_http_sent_bytes_total Bytes written to clients.\n"
                   "# TYPE corio_http_sent_bytes_total counter\n"
                   "corio_http_sent_bytes_total {}\n"
                   "# HELP corio_http_request_duration_seconds Time from a complete request to its response.\n"
                   "# TYPE corio_http_request_duration_seconds histogram\n",
                   in_flight, open_connections, bytes_in, bytes_out);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < latency_bounds.size(); ++i) {
        cumulative += latency_counts[i];
        fmt::format_to(w, "corio_http_request_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                       latency_bounds[i], cumulative);
    }
    cumulative += latency_counts.back();
    fmt::format_to(w,
                   "corio_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n"
                   "corio_http_request_duration_seconds_sum {}\n"
                   "corio_http_request_duration_seconds_count {}\n",
                   cumulative, latency_sum_seconds, cumulative);
    return out;
}

}  // namespace corio::http
