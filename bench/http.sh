#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# http.sh: the shared compare.sh http runs (wrk -c50), with and without pipelining, repeated and
# reduced to the median cpu_ratio of corio's http_server against each peer, and its p99 latency.
#
#   bench/http.sh                   env: BUILD, SHARED_BENCH (see servers.sh), RUNS [3], DURATION [5],
#                                   PEERS [epoll asio nginx], CORIO [corio] (add corio-uring to also
#                                   run the io_uring backend; corio-tN runs http_server --threads N),
#                                   PIPELINES [1 16], PEER_THREADS [unset]
# PEER_THREADS=N runs the peers with N threads (nginx N workers) and server and wrk on both CPUs
# (compare.sh --peer-threads N --server-cpu 0,1 --client-cpu 0,1 --load-threads 2), as echo.sh does.
# Each compare.sh table goes to stderr; the medians go to stdout. cpu_ratio is taken within one
# run (corio's per_cpu_s / the peer's), then the median over the runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

runs=${RUNS:-3}
need "$SHARED_BENCH/compare.sh" "$BUILD/examples/http_server"
read -ra peers <<<"${PEERS:-epoll asio nginx}"
read -ra corios <<<"${CORIO:-corio}"
servers=("${peers[@]}")
for c in "${corios[@]}"; do
    case "$c" in
        corio) servers+=("corio=$BUILD/examples/http_server --backend epoll --port {port}") ;;
        corio-uring) servers+=("corio-uring=$BUILD/examples/http_server --backend io_uring --port {port}") ;;
        corio-t[0-9]*) servers+=("$c=$BUILD/examples/http_server --backend epoll --threads ${c#corio-t} --port {port}") ;;
        *) die "unknown corio server '$c' (corio, corio-uring, corio-tN)" ;;
    esac
done
tmp=$(mktemp -d)
failed=0
placement=()
if [ -n "${PEER_THREADS:-}" ]; then
    placement=(--peer-threads "$PEER_THREADS" --server-cpu 0,1 --client-cpu 0,1 --load-threads 2)
fi

for depth in ${PIPELINES:-1 16}; do
    for run in $(seq "$runs"); do
        out=$("$SHARED_BENCH/compare.sh" http --pipeline "$depth" --duration "${DURATION:-5}" \
            "${placement[@]}" "${servers[@]}") || failed=1
        echo "$out" >&2
        # columns: server req/s p50 p99 srv_cpu load_cpu ratio per_cpu_s cpu_ratio status
        awk -v d="$depth" -v r="$run" '$NF == "ok" && $2 ~ /^[0-9]+$/ { print d, r, $1, $8, $4 }' \
            <<<"$out" >>"$tmp/rows"
    done
done

echo "# median over $runs runs of compare.sh http (wrk -c50${placement[*]:+ ${placement[*]}}); cpu_ratio = corio's per_cpu_s / the peer's, per run"
awk -v peers="${peers[*]}" -v corios="${corios[*]}" '
    function median(s,   n, a, i, j, t) {
        n = split(s, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : ""
    }
    { eff[$1, $2, $3] = $4; p99[$1, $3] = p99[$1, $3] " " $5; if (!($1 in seen)) { seen[$1]; order[++nd] = $1 }; last = $2 > last ? $2 : last }
    END {
        np = split(peers, pv, " "); nc = split(corios, cv, " ")
        printf "| pipeline | server |"; for (i = 1; i <= np; i++) printf " cpu_ratio vs %s |", pv[i]; print " p99_us (median) | runs |"
        printf "|---:|---|"; for (i = 1; i <= np; i++) printf "---:|"; print "---:|---:|"
        for (k = 1; k <= nd; k++) for (c = 1; c <= nc; c++) {
            d = order[k]; printf "| %s | %s |", d, cv[c]
            for (i = 1; i <= np; i++) {
                s = ""; n = 0
                for (r = 1; r <= last; r++)
                    if (((d, r, cv[c]) in eff) && ((d, r, pv[i]) in eff) && eff[d, r, pv[i]] > 0) { s = s " " eff[d, r, cv[c]] / eff[d, r, pv[i]]; n++ }
                m = median(s); printf " %s |", m == "" ? "-" : sprintf("%.2f", m)
            }
            m = median(p99[d, cv[c]]); printf " %s | %d |\n", m == "" ? "-" : m, n
        }
        for (i = 1; i <= np; i++) {
            printf "# %s p99_us by pipeline:", pv[i]
            for (k = 1; k <= nd; k++) { m = median(p99[order[k], pv[i]]); printf " %s=%s", order[k], m == "" ? "-" : m }
            print ""
        }
    }' "$tmp/rows"
rm -rf "$tmp"
((failed == 0)) || die "some compare.sh run reported a status other than ok (see the tables above)"
