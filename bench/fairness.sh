#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fairness.sh: p99 latency and per-connection message counts with 500 connections, corio vs epoll.
#
#   bench/fairness.sh               env: BUILD, SHARED_BENCH, PORT (see servers.sh),
#                                   SERVERS [corio epoll], CONNS [500], SIZE [64], DURATION [5]
# p99 comes from the shared echo_load. echo_load cannot report per-connection counts, so a
# second run with bench/fairness_client checks that no connection starved (min/median/max).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

read -ra servers <<<"${SERVERS:-corio epoll}"
conns=${CONNS:-500} size=${SIZE:-64} duration=${DURATION:-5}
need "$SHARED_BENCH/build/echo_load" "$BUILD/bench/fairness_client"
declare -A p99
starved=0
kv() { grep -o "\b$1=[^ ]*" <<<"$2" | cut -d= -f2; }

echo "| server | p99_us | msgs/s | per-connection msgs min / median / max | starved |"
echo "|---|---:|---:|---|---:|"
for s in "${servers[@]}"; do
    start_server "$s"
    load=$(taskset -c 1 "$SHARED_BENCH/build/echo_load" --port "$port" --conns "$conns" --size "$size" \
        --duration "$duration" --warmup 1) || die "echo_load failed against $s: $load"
    fair=$(taskset -c 1 "$BUILD/bench/fairness_client" --port "$port" --conns "$conns" --size "$size" \
        --duration "$duration") || starved=1
    [[ $fair == *starved=* ]] || die "fairness_client failed against $s"
    stop_server
    p99[$s]=$(kv p99_us "$load")
    echo "| $s | ${p99[$s]} | $(kv msgs_per_s "$load") | $(kv min "$fair") / $(kv median "$fair") / $(kv max "$fair") | $(kv starved "$fair") |"
done
base=${servers[-1]}
for s in "${servers[@]}"; do
    [ "$s" = "$base" ] || awk -v a="${p99[$s]}" -v b="${p99[$base]}" -v n="$s/$base" \
        'BEGIN { printf "# p99 ratio %s: %.2f\n", n, a / b }'
done
echo "# $conns connections x $size B, depth 1, ${duration} s; starved = connections that completed no message"
((starved == 0)) || die "some connection completed no message"
