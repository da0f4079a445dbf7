#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# send_burst.sh: sequential small send_all from one coroutine to a fast reader, io_uring against
# corio's own epoll backend in the same run (median of RUNS, alternating backends).
#
#   bench/send_burst.sh     env: BUILD (see servers.sh), RUNS [3], COUNT [200000], SIZE [100],
#                           BACKENDS ["epoll io_uring"]; the first backend is the reference
# The loop runs on CPU 0, the reader thread on CPU 1. Exits 1 if io_uring's messages/s fall
# below 0.85 of the reference's (the target of issue 13).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
need "$BUILD/bench/send_burst"
read -ra backends <<<"${BACKENDS:-epoll io_uring}"
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for run in $(seq "${RUNS:-3}"); do
    for b in "${backends[@]}"; do
        line=$("$BUILD/bench/send_burst" --backend "$b" --cpu 0 --count "${COUNT:-200000}" --size "${SIZE:-100}")
        echo "run $run: $line" >&2
        # backend=B count=N size=S msgs_per_s=M cpu_us_per_send=C wall_s=W
        awk -v r="$run" -v want="$b" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            print r, want, v["msgs_per_s"], v["cpu_us_per_send"] }' <<<"$line" >>"$rows"
    done
done
awk -v ref="${backends[0]}" -v list="${backends[*]}" '
    function median(s,   n, a, i, j, t) {
        n = split(s, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { rate[$2] = rate[$2] " " $3; cpu[$2] = cpu[$2] " " $4; r[$1, $2] = $3; c[$1, $2] = $4; runs[$1] }
    END {
        n = split(list, names, " ")
        print "| backend | msgs/s (median) | CPU us per send (median) | msgs/s vs " ref " (median of per-run ratios) | CPU per send vs " ref " |"
        print "|---|---:|---:|---:|---:|"
        status = 0
        for (k = 1; k <= n; k++) {
            b = names[k]; rr = ""; cr = ""
            for (run in runs) { rr = rr " " r[run, b] / r[run, ref]; cr = cr " " c[run, b] / c[run, ref] }
            mr = median(rr)
            printf "| %s | %.0f | %.3f | %.2f | %.2f |\n", b, median(rate[b]), median(cpu[b]), mr, median(cr)
            if (b == "io_uring" && mr < 0.85) status = 1
        }
        exit status
    }' "$rows" || die "io_uring sent fewer than 0.85x the messages per second of ${backends[0]}"
