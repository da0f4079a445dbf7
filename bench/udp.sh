#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# udp.sh: 64-byte UDP echo rate of corio's udp_echo (recv_many/send_many, the example as it is)
# against the bare C recvmmsg/sendmmsg loop (bench/udp_echo_peer.c), in the same run.
#
#   bench/udp.sh       env: BUILD [repo/build/release], RUNS [3], DURATION [5], WARMUP [1],
#                      SERVERS [c corio corio-uring], SIZE [64], SOCKETS [8], WINDOW [32]
# Each server runs pinned to CPU 0 and bench/udp_load (SOCKETS connected sockets keeping WINDOW
# datagrams each in flight) to CPU 1, as bench/echo.sh places them; the servers take turns
# within each run. Per run: datagrams/s, the server's CPU (% of one CPU, from /proc/PID/stat)
# and datagrams per server-CPU-second; the table gives the median over the runs of each, and
# of each corio server's ratio to the first server (c) within a run.
set -euo pipefail
repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
BUILD=${BUILD:-$repo/build/release}
runs=${RUNS:-3} duration=${DURATION:-5} warmup=${WARMUP:-1}
read -ra names <<<"${SERVERS:-c corio corio-uring}"
die() { echo "udp.sh: $*" >&2; exit 1; }

server_cmd() {
    case "$1" in
        c) echo "$BUILD/bench/udp_echo_peer 0" ;;
        corio) echo "$BUILD/examples/udp_echo --port 0 --backend epoll" ;;
        corio-et) echo "$BUILD/examples/udp_echo --port 0 --backend epoll-et" ;;
        corio-uring) echo "$BUILD/examples/udp_echo --port 0 --backend io_uring" ;;
        *) die "unknown server '$1' (c, corio, corio-et, corio-uring)" ;;
    esac
}
for n in "${names[@]}"; do
    cmd=$(server_cmd "$n")
    [ -x "${cmd%% *}" ] || die "${cmd%% *} is missing (build with -DCORIO_BUILD_BENCH=ON)"
done
[ -x "$BUILD/bench/udp_load" ] || die "$BUILD/bench/udp_load is missing"

tmp=$(mktemp -d)
srv_pid=""
cleanup() {
    [ -z "$srv_pid" ] || kill -KILL "$srv_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
hz=$(getconf CLK_TCK)

echo "# udp.sh: size=${SIZE:-64} sockets=${SOCKETS:-8} window=${WINDOW:-32} duration=${duration}s runs=$runs; $(nproc) CPUs; loadavg $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC')" >&2
for run in $(seq "$runs"); do
    for n in "${names[@]}"; do
        # shellcheck disable=SC2046  # the command line is split into words on purpose
        coproc srv { exec taskset -c 0 $(server_cmd "$n") 2>"$tmp/$n.err"; }
        srv_pid=$srv_PID
        read -r -t 10 -u "${srv[0]}" line || die "$n printed no 'listening on' line: $(cat "$tmp/$n.err")"
        [[ $line =~ :([0-9]+)\ \( ]] || die "$n: unexpected line '$line'"
        port=${BASH_REMATCH[1]}
        taskset -c 1 "$BUILD/bench/udp_load" --port "$port" --size "${SIZE:-64}" \
            --sockets "${SOCKETS:-8}" --window "${WINDOW:-32}" --warmup "$warmup" \
            --duration "$duration" >"$tmp/load.out" &
        load_pid=$!
        sleep "$warmup"
        t0=$(ticks "$srv_pid") s0=$(date +%s.%N)
        wait "$load_pid" || die "$n: udp_load failed: $(cat "$tmp/load.out")"
        t1=$(ticks "$srv_pid") s1=$(date +%s.%N)
        kill -TERM "$srv_pid"
        wait "$srv_pid" 2>/dev/null || true
        srv_pid=""
        rate=$(sed -n 's/.*datagrams_per_s=\([0-9]*\).*/\1/p' "$tmp/load.out")
        cpu=$(awk -v a="$t0" -v b="$t1" -v s="$s0" -v e="$s1" -v hz="$hz" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / (e - s) }')
        echo "run $run $n $(cat "$tmp/load.out") srv_cpu=${cpu}%" >&2
        echo "$run $n $rate $cpu" >>"$tmp/rows"
    done
done

# The table: medians per server, and per-run ratios to the first server, then their median.
awk -v list="${names[*]}" '
    function median(s,   n, a, i, j, t) {
        n = split(s, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : 0
    }
    BEGIN { k = split(list, order, " "); ref = order[1] }
    { rate[$1, $2] = $3; cpu[$1, $2] = $4; runs[$1] = 1 }
    END {
        printf "| server | datagrams/s | srv_cpu | datagrams per CPU-s | rate / %s | per CPU-s / %s |\n", ref, ref
        print "|---|---:|---:|---:|---:|---:|"
        for (i = 1; i <= k; i++) {
            s = order[i]; r = c = e = rr = re = ""
            for (run in runs) {
                r = r " " rate[run, s]; c = c " " cpu[run, s]
                eff = cpu[run, s] > 0 ? rate[run, s] * 100 / cpu[run, s] : 0; e = e " " eff
                if (rate[run, ref] > 0) rr = rr " " rate[run, s] / rate[run, ref]
                refeff = cpu[run, ref] > 0 ? rate[run, ref] * 100 / cpu[run, ref] : 0
                if (refeff > 0) re = re " " eff / refeff
            }
            printf "| %s | %.0f | %.0f%% | %.0f | %.2f | %.2f |\n", s, median(r), median(c), median(e), median(rr), median(re)
        }
    }' "$tmp/rows"
