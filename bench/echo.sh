#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# echo.sh: the shared compare.sh echo runs, repeated, reduced to median cpu_ratio per server.
#
#   bench/echo.sh                   env: BUILD, SHARED_BENCH (see servers.sh), RUNS [3], DURATION [5],
#                                   SERVERS [epoll corio corio-et asio tokio], CONFIGS [50x512 5000x64]
#                                   PEER_THREADS [unset]
# The first server is the cpu_ratio reference (bare epoll C by default). Each compare.sh table
# goes to stderr; the medians go to stdout. PEER_THREADS=N runs the peers with N threads and
# server and load generator on both CPUs (compare.sh --peer-threads N --server-cpu 0,1
# --client-cpu 0,1 --load-threads 2): list corio-tN (echo_server --threads N) among SERVERS,
# and the table adds each server's throughput ratio (tput) to the first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

runs=${RUNS:-3}
need "$SHARED_BENCH/compare.sh" "$BUILD/examples/echo_server"
read -ra names <<<"${SERVERS:-epoll corio corio-et asio tokio}"
servers=()
for n in "${names[@]}"; do
    case "$n" in
        corio*) servers+=("$n=$(server_cmd "$n")") ;;
        *) servers+=("$n") ;;  # a peer of the shared harness (epoll, uring, asio, tokio, ...)
    esac
done
tmp=$(mktemp -d)
failed=0
placement=()
if [ -n "${PEER_THREADS:-}" ]; then
    placement=(--peer-threads "$PEER_THREADS" --server-cpu 0,1 --client-cpu 0,1 --load-threads 2)
fi

for config in ${CONFIGS:-50x512 5000x64}; do
    conns=${config%x*} size=${config#*x}
    for run in $(seq "$runs"); do
        out=$("$SHARED_BENCH/compare.sh" echo --conns "$conns" --size "$size" \
            --duration "${DURATION:-5}" "${placement[@]}" "${servers[@]}") || failed=1
        echo "$out" >&2
        # columns: server msgs/s p50 p99 srv_cpu load_cpu ratio per_cpu_s cpu_ratio status
        awk -v c="$config" -v r="$run" -v list=" ${names[*]} " 'index(list, " " $1 " ") {
            print c, r, $1, $9, $8, $7 }' <<<"$out" >>"$tmp/rows"
    done
done

echo "# median over $runs runs of compare.sh echo (cpu_ratio = per_cpu_s / ${names[0]}'s per_cpu_s)"
# Ratios of per_cpu_s within each run, then their median: each corio server against asio,
# corio-uring also against the bare io_uring peer and against corio's own epoll backend.
awk -v list="${names[*]}" -v tput="${PEER_THREADS:-}" '
    function median(key,   n, a, i, j, t) {
        n = split(vals[key], a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : "-"
    }
    function add(key, v) { if (v ~ /^[0-9.e+-]+$/) vals[key] = vals[key] " " v }
    function pair(a, b) { if (a != b && has[a] && has[b]) { cols[++ncol] = a "/" b; num[ncol] = a; den[ncol] = b } }
    BEGIN {
        ncol = split(list, cols, " ")
        for (i = 1; i <= ncol; i++) has[cols[i]] = 1
        n = ncol
        for (i = 1; i <= n; i++) if (cols[i] ~ /^corio/) pair(cols[i], "asio")
        pair("corio-uring", "uring"); pair("corio-uring", "corio")
        pair("corio", "corio-base"); pair("corio-uring", "corio-base-uring")  # now / before
        for (i = 1; i <= n; i++) if (cols[i] ~ /^corio-t/) { pair(cols[i], "tokio"); pair(cols[i], "corio-t1") }
        if (tput) for (i = 2; i <= n; i++) cols[++ncol] = cols[i] " tput"
    }
    { add($1 " " $3, $4); add($1 " " $3 " tput", $6); eff[$1, $2, $3] = $5; if (!($1 in seen)) { seen[$1]; order[++nc] = $1 } }
    END {
        for (key in eff) {  # key = config, run, server
            split(key, p, SUBSEP)
            for (i = 1; i <= ncol; i++) {
                if (num[i] != p[3] || !((p[1], p[2], den[i]) in eff)) continue
                if ((d = eff[p[1], p[2], den[i]]) > 0 && eff[key] > 0) add(p[1] " " cols[i], eff[key] / d)
            }
        }
        printf "| config |"; for (i = 1; i <= ncol; i++) printf " %s%s |", cols[i], num[i] ? " per_cpu_s" : ""; print ""
        printf "|---|"; for (i = 1; i <= ncol; i++) printf "---:|"; print ""
        for (k = 1; k <= nc; k++) {
            c = order[k]
            printf "| %s |", c
            for (i = 1; i <= ncol; i++) { m = median(c " " cols[i]); printf " %s |", m == "-" ? m : sprintf("%.2f", m) }
            print ""
        }
    }' "$tmp/rows"
rm -rf "$tmp"
((failed == 0)) || die "some compare.sh run reported a status other than ok (see the tables above)"
