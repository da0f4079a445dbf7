#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# echo.sh: the shared compare.sh echo runs, repeated, reduced to median cpu_ratio per server.
#
#   bench/echo.sh                   env: BUILD, SHARED_BENCH (see servers.sh), RUNS [3], DURATION [5]
# Configs: 50 conns x 512 B and 5000 conns x 64 B. epoll comes first, so cpu_ratio is relative
# to bare epoll C. Each compare.sh table goes to stderr; the medians go to stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

runs=${RUNS:-3}
need "$SHARED_BENCH/compare.sh" "$BUILD/examples/echo_server"
servers=(epoll "corio=$(server_cmd corio)" "corio-et=$(server_cmd corio-et)" asio tokio)
tmp=$(mktemp -d)
failed=0

for config in "50 512" "5000 64"; do
    read -r conns size <<<"$config"
    for run in $(seq "$runs"); do
        out=$("$SHARED_BENCH/compare.sh" echo --conns "$conns" --size "$size" \
            --duration "${DURATION:-5}" "${servers[@]}") || failed=1
        echo "$out" >&2
        # columns: server msgs/s p50 p99 srv_cpu load_cpu ratio per_cpu_s cpu_ratio status
        awk -v c="${conns}x$size" -v r="$run" '$1 ~ /^(epoll|corio|corio-et|asio|tokio)$/ {
            print c, r, $1, $9, $8 }' <<<"$out" >>"$tmp/rows"
    done
done

echo "# median over $runs runs of compare.sh echo (cpu_ratio = per_cpu_s / epoll's per_cpu_s)"
awk '
    function median(key,   n, a, i, j, t) {
        n = split(vals[key], a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : "-"
    }
    function add(key, v) { if (v ~ /^[0-9.e+-]+$/) vals[key] = vals[key] " " v }
    { add($1 " " $3, $4); eff[$1, $2, $3] = $5; if (!($1 in seen)) { seen[$1]; order[++nc] = $1 } }
    END {
        for (key in eff) {  # key = config, run, server
            split(key, p, SUBSEP)
            if (p[3] !~ /^corio/ || !((p[1], p[2], "asio") in eff)) continue
            if ((asio = eff[p[1], p[2], "asio"]) > 0 && eff[key] > 0) add(p[1] " " p[3] "/asio", eff[key] / asio)
        }
        printf "| config | epoll | corio | corio-et | asio | tokio | corio/asio per_cpu_s | corio-et/asio per_cpu_s |\n"
        print "|---|---:|---:|---:|---:|---:|---:|---:|"
        for (k = 1; k <= nc; k++) {
            c = order[k]
            printf "| %s |", c
            n = split("epoll corio corio-et asio tokio corio/asio corio-et/asio", col, " ")
            for (i = 1; i <= n; i++) { m = median(c " " col[i]); printf " %s |", m == "-" ? m : sprintf("%.2f", m) }
            print ""
        }
    }' "$tmp/rows"
rm -rf "$tmp"
((failed == 0)) || die "some compare.sh run reported a status other than ok (see the tables above)"
