#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# proxy.sh: bulk echo traffic through tcp_proxy, through socat, and straight to the same
# echo_server, in one run; throughput and the proxy's CPU per byte, median of RUNS runs.
#
#   bench/proxy.sh          env: BUILD, SHARED_BENCH (see servers.sh), RUNS [3], DURATION [5],
#                           CONNS [50], SIZE [65536], DEPTH [4], PROXIES [tcp_proxy tcp_proxy-uring socat]
#
# The echo server (corio's echo_server, epoll) and the load generator (the shared harness's
# echo_load: CONNS connections each keeping DEPTH messages of SIZE bytes in flight, every byte
# checked) share CPU 1; the proxy runs alone on CPU 0. socat runs as Debian ships it, with
# `TCP-LISTEN:P,fork,reuseaddr TCP:127.0.0.1:ECHO` and no other option: one process per
# connection, each copying with its default 8 KiB buffer.
#
# Proxy CPU is the whole run's: each proxy is started for its run, and once the load has ended
# and the proxy has no child left, its utime+stime+cutime+cstime from /proc (socat forks one
# process per connection and reaps it, so the children's time is in cutime+cstime; sampling
# live children at two instants instead loses a child that exits between them). echo_load runs
# without a warmup, so every byte it counts went through the proxy in that CPU time, and its
# connection set-up (socat's forks) is part of the cost. MB/CPU-s is the bytes the proxy moved
# (both directions: 2 x the echoed bytes, MB/s x DURATION) per second of proxy CPU; the ratio
# is that against socat's in the same run. Each run's rows go to stderr, the medians to stdout
# with `uptime`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

runs=${RUNS:-3} duration=${DURATION:-5} conns=${CONNS:-50} size=${SIZE:-65536} depth=${DEPTH:-4}
read -ra proxies <<<"${PROXIES:-tcp_proxy tcp_proxy-uring socat}"
load=$SHARED_BENCH/build/echo_load
need "$load" "$BUILD/examples/echo_server" "$BUILD/examples/tcp_proxy"
command -v socat >/dev/null || die "socat is not installed (Debian: apt-get install socat)"
tmp=$(mktemp -d)
clk=$(getconf CLK_TCK)

free_port() {
    port=$next_port
    while listening "$port"; do port=$((port + 1)); done
    next_port=$((port + 1))
}

# run_ticks PID: CPU ticks of PID over its life so far, its reaped children's included.
run_ticks() {
    # Fields after the command (which may hold spaces): utime is the 12th, cstime the 15th.
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }'
}

# run_one NAME PORT [PID]: the load against PORT; prints "name mb_s cpu_s" (cpu_s: PID's CPU
# seconds over the whole run, children included; "-" without a PID).
run_one() {
    local name=$1 target=$2 pid=${3:-} out ticks
    taskset -c 1 "$load" --port "$target" --conns "$conns" --size "$size" --depth "$depth" \
        --duration "$duration" --warmup 0 >"$tmp/$name.out" 2>"$tmp/$name.err" &
    local load_pid=$!
    helper_pids+=("$load_pid")
    wait "$load_pid" || die "$name: echo_load failed: $(cat "$tmp/$name.out" "$tmp/$name.err")"
    out=$(cat "$tmp/$name.out")
    [[ $out =~ mbytes_per_s=([0-9.]+).*errors=0\ mismatches=0 ]] || die "$name: unexpected '$out'"
    if [ -z "$pid" ]; then
        echo "$name ${BASH_REMATCH[1]} -"
        return
    fi
    # The load closed its connections: wait (bounded) until every per-connection child is reaped.
    for _ in $(seq 200); do
        pgrep -P "$pid" >/dev/null || break
        sleep 0.05
    done
    pgrep -P "$pid" >/dev/null && die "$name: children still running 10 s after the load ended"
    ticks=$(run_ticks "$pid")
    printf '%s %s %.4f\n' "$name" "${BASH_REMATCH[1]}" "$(echo "$ticks / $clk" | bc -l)"
}

start_server corio
echo_port=$port
for run in $(seq "$runs"); do
    run_one direct "$echo_port" >>"$tmp/rows.$run"
    for p in "${proxies[@]}"; do
        free_port
        case "$p" in
            tcp_proxy) cmd=("$BUILD/examples/tcp_proxy" --backend epoll --port "$port" --drain-seconds 0
                            --to "127.0.0.1:$echo_port") ;;
            tcp_proxy-uring) cmd=("$BUILD/examples/tcp_proxy" --backend io_uring --port "$port"
                                  --drain-seconds 0 --to "127.0.0.1:$echo_port") ;;
            socat) cmd=(socat "TCP-LISTEN:$port,fork,reuseaddr" "TCP:127.0.0.1:$echo_port") ;;
            *) die "unknown proxy '$p'" ;;
        esac
        taskset -c 0 "${cmd[@]}" >/dev/null 2>"$tmp/$p.log" &
        proxy_pid=$!
        helper_pids+=("$proxy_pid")
        for _ in $(seq 100); do listening "$port" && break; sleep 0.05; done
        listening "$port" || die "$p did not listen: $(cat "$tmp/$p.log")"
        run_one "$p" "$port" "$proxy_pid" >>"$tmp/rows.$run"
        kill -TERM "$proxy_pid" 2>/dev/null || true
        wait "$proxy_pid" 2>/dev/null || true
    done
    {
        echo "# run $run: conns=$conns size=$size depth=$depth duration=${duration}s"
        awk '{ printf "%-16s %10s MB/s  proxy CPU %s\n", $1, $2, $3 == "-" ? "-" : $3 " s" }' "$tmp/rows.$run"
    } >&2
done

echo "# bench/proxy.sh: median of $runs runs; echo_load --conns $conns --size $size --depth $depth"
echo "# --duration $duration --warmup 0 (MB/s echoed); proxy alone on CPU 0, echo_server + echo_load on CPU 1;"
echo "# proxy CPU-s: the proxy's (and its children's) CPU over its whole run"
echo "# uptime: $(uptime)"
cat "$tmp"/rows.* | awk -v runs="$runs" -v duration="$duration" '
    function median(s,   n, a, i, j, t) {
        n = split(s, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
      mb[$1] = mb[$1] " " $2
      if ($3 != "-") { cpu[$1] = cpu[$1] " " $3; per[$1] = per[$1] " " 2 * $2 * duration / $3 } }
    END {
        printf "| %-16s | %9s | %11s | %12s | %14s |\n", "path", "MB/s", "proxy CPU-s", "MB/CPU-s", "vs socat"
        printf "|%s|%s|%s|%s|%s|\n", "------------------", "-----------", "-------------", "--------------", "----------------"
        for (i = 1; i <= n; i++) {
            k = order[i]
            if (k in cpu) {
                r = ("socat" in per) ? sprintf("%.2fx", median(per[k]) / median(per["socat"])) : "-"
                printf "| %-16s | %9.1f | %11.2f | %12.1f | %14s |\n", k, median(mb[k]), median(cpu[k]), median(per[k]), r
            } else {
                printf "| %-16s | %9.1f | %11s | %12s | %14s |\n", k, median(mb[k]), "-", "-", "-"
            }
        }
    }'
