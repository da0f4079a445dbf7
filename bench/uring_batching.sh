#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# uring_batching.sh: SQEs submitted per io_uring_enter by corio's io_uring backend under echo load,
# counted by the server itself (echo_server --stats prints its backend counters at exit).
#
#   bench/uring_batching.sh         env: BUILD, SHARED_BENCH, PORT (see servers.sh),
#                                   CONNS ["1 16 50 300"], SIZE [512], DURATION [3]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
need "$SHARED_BENCH/build/echo_load"

echo "| busy connections | msgs/s | io_uring_enter calls | SQEs submitted | SQEs per enter | ENOBUFS retries |"
echo "|---:|---:|---:|---:|---:|---:|"
for conns in ${CONNS:-1 16 50 300}; do
    start_server corio-uring
    out=$(taskset -c 1 "$SHARED_BENCH/build/echo_load" --port "$port" --conns "$conns" \
        --size "${SIZE:-512}" --duration "${DURATION:-3}" --warmup 0) || die "echo_load failed: $out"
    kill -INT "$server_pid"
    wait "$server_pid" || true
    server_pid=""
    # "echo_server: E enters, S SQEs submitted (R per enter), O operations, B ENOBUFS retries"
    stats=$(grep -o '[0-9]* enters, [0-9]* SQEs submitted ([0-9.]* per enter), [0-9]* operations, [0-9]* ENOBUFS' \
        "$logdir/corio-uring.log") || die "no counters in $logdir/corio-uring.log"
    read -r enters _ sqes _ _ per _ _ _ _ retries _ <<<"${stats//[(),]/ }"
    rate=$(grep -o '\bmsgs_per_s=[0-9.]*' <<<"$out" | cut -d= -f2)
    echo "| $conns | $rate | $enters | $sqes | $per | $retries |"
done
