#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scaling.sh: echo throughput and server CPU per message with 50 active connections plus N idle
# ones, per reactor backend: what an idle connection costs the busy ones.
#
#   bench/scaling.sh                env: BUILD, SHARED_BENCH, PORT (see servers.sh),
#                                   BACKENDS [all of `echo_server --list-backends`],
#                                   IDLE ["0 1000 10000"], DURATION [5], RUNS [3],
#                                   CONNS [50], SIZE [512], SELECT_MAX_IDLE [900],
#                                   TARGET_PCT [10], OUT_DIR [<repo>/bench/results]
#
# Per run, backend and idle count: echo_server --backend B on CPU 0; idle_clients (CPU 1) opens
# the idle connections, one echo each, and holds them; echo_load (CPU 1) drives CONNS x SIZE B for
# DURATION s without warmup. The server's CPU time (all its threads, /proc/PID/task/*/schedstat,
# ns) is read just before echo_load starts and once the server has closed its connections after
# it exits, so no timing on this loaded machine can misplace the window: CPU per message = that
# time / msgs, where the connects and closes of the CONNS connections add well under 0.1%.
# Runs are interleaved (run 1 of every cell, then run 2, ...) and reduced to medians.
# A run fails unless the server still holds every idle connection (ss, before and after the load);
# on epoll the raw data also counts the descriptors in its epoll set (fdinfo), so "registered" is
# checked, not assumed.
#
# select cannot watch a descriptor >= FD_SETSIZE (1024, errc::fd_set_overflow), so its idle
# counts are capped at SELECT_MAX_IDLE and the rows say so.
# Targets: epoll, epoll-et, kqueue and io_uring lose at most TARGET_PCT % from 0 idle to the
# largest count, judged on the server's CPU per message: msgs/s is printed too, but it also moves
# with the load generator's limit (CPU 1) and with whatever else runs on CPU 0. poll and select
# have no target (their cost is linear in the descriptors watched; the footer gives the slope).
#
# Output: a markdown table on stdout (also OUT_DIR/scaling.md), OUT_DIR/scaling.dat (medians, one
# gnuplot block per backend; bench/plot_scaling.sh reads it) and OUT_DIR/scaling-runs.dat (every
# run). Exits 1 if a run failed or a target was missed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

read -ra idle_counts <<<"${IDLE:-0 1000 10000}"
duration=${DURATION:-5} runs=${RUNS:-3}
conns=${CONNS:-50} size=${SIZE:-512} select_max=${SELECT_MAX_IDLE:-900} target=${TARGET_PCT:-10}
out_dir=${OUT_DIR:-$repo/bench/results}
echo_server=$BUILD/examples/echo_server echo_load=$SHARED_BENCH/build/echo_load
need "$echo_server" "$BUILD/bench/idle_clients"
[ -x "$echo_load" ] || die "$echo_load is missing: run $SHARED_BENCH/build.sh"
if [ -n "${BACKENDS:-}" ]; then
    read -ra backends <<<"$BACKENDS"
else
    mapfile -t backends < <("$echo_server" --list-backends)
fi
[[ $duration =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v d="$duration" 'BEGIN { exit !(d >= 0.5) }' ||
    die "DURATION wants at least 0.5 seconds"
for v in runs conns size select_max; do
    [[ ${!v} =~ ^[0-9]+$ ]] && ((${!v} > 0)) || die "${v^^} wants a positive integer"
done
for n in "${idle_counts[@]}"; do [[ $n =~ ^[0-9]+$ ]] || die "IDLE wants counts, not '$n'"; done
((select_max + conns + 16 <= 1024)) || die "SELECT_MAX_IDLE + CONNS must stay below FD_SETSIZE (1024) minus the server's own descriptors"

# Descriptors: echo_server and idle_clients raise their soft limit to the hard one themselves.
max_idle=0
for n in "${idle_counts[@]}"; do ((n > max_idle)) && max_idle=$n; done
need_fds=$((max_idle + conns + 64))
ulimit -n "$need_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(($(ulimit -Hn) >= need_fds)) || [ "$(ulimit -Hn)" = unlimited ] ||
    die "the descriptor hard limit $(ulimit -Hn) is below the $need_fds needed (try: ulimit -Hn $need_fds as root)"

# This script's own work (sleep, /proc reads, awk) stays off the server's CPU.
taskset -pc 1 $$ >/dev/null

# Backend names become server names for servers.sh's start_server.
eval "servers_sh_$(declare -f server_cmd)"
server_cmd() {
    case "$1" in
        backend:*) echo "$echo_server --drain-seconds 0 --backend ${1#backend:} --port {port}" ;;
        *) servers_sh_server_cmd "$1" ;;
    esac
}

# idle counts for one backend: select's are capped (and deduplicated), the others as given.
counts_for() {
    local n seen=" "
    for n in "${idle_counts[@]}"; do
        [ "$1" = select ] && ((n > select_max)) && n=$select_max
        [[ $seen == *" $n "* ]] || { seen+="$n "; echo "$n"; }
    done
}

kv() { grep -o "\b$1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2 || true; }
# children_cpu FILE: CPU seconds of the waited-for children in the output of bash's `times`
# (which must run in this shell, not in a $(...) subshell).
children_cpu() {
    awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] } printf "%.3f\n", t }' "$1"
}
# cpu_ns PID: CPU time of all its threads in ns (schedstat), else utime + stime in ticks.
hz=$(getconf CLK_TCK)
cpu_ns() {
    if [ -r "/proc/$1/schedstat" ]; then
        cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
    else
        awk -v hz="$hz" '{ printf "%.0f\n", ($14 + $15) * 1e9 / hz }' "/proc/$1/stat"
    fi
}
# established PORT: established TCP connections whose local port is PORT (the server's side).
established() { ss -Htn state established "sport = :$1" 2>/dev/null | wc -l; }
# closing PORT: connections the peer closed and the server (local port PORT) has not closed yet.
closing() { ss -Htn state close-wait "sport = :$1" 2>/dev/null | wc -l; }
# epoll_watched PID: descriptors in the server's epoll set(s) (tfd lines of its eventpoll fdinfo),
# or "-" when it has no epoll instance (poll, select; kqueue is libkqueue's business).
epoll_watched() {
    local fd total=0 found=0
    for fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:[eventpoll]" ] || continue
        found=1
        total=$((total + $(grep -c '^tfd:' "/proc/$1/fdinfo/${fd##*/}" || true)))
    done
    ((found)) && echo "$total" || echo -
}

# idle_open N: idle_clients as a coprocess holding N connections to $port; 1 if it fails.
idle_pid=""
idle_open() {
    local line=""
    coproc idle { exec taskset -c 1 "$BUILD/bench/idle_clients" --port "$port" --conns "$1" 2>&1; }
    # shellcheck disable=SC2154  # idle_PID is set by coproc
    idle_pid=$idle_PID idle_out=${idle[0]} idle_in=${idle[1]}
    read -r -t 300 -u "$idle_out" line || true
    [ "$line" = "ready $1" ] || { echo "idle_clients: ${line:-no answer}" >&2; return 1; }
}
idle_close() {
    [ -n "$idle_pid" ] || return 0
    local rc=0
    exec {idle_in}>&-
    wait "$idle_pid" || rc=$?
    idle_pid=""
    return "$rc"
}

# measure BACKEND IDLE RUN: one cell; appends a row to $raw. Columns: run backend idle
# msgs_per_s cpu_us_per_msg srv_cpu_pct load_cpu_pct p99_us held epoll_watched status
measure() {
    local b=$1 n=$2 run=$3 status=ok held=- watched=- line="" rate="" p99="" per="" scpu="" lcpu=""
    local load_out=$tmp/load.out c0 c1 l0 l1 msgs="" held_min
    start_server "backend:$b"
    # io_uring that cannot open runs on epoll and says so on stderr: that is not io_uring's row.
    if grep -q 'using epoll instead' "$logdir/backend:$b.log" 2>/dev/null; then
        status=fell-back-to-epoll
        sed 's/^/  /' "$logdir/backend:$b.log" >&2
    elif ((n > 0)) && ! idle_open "$n"; then
        status="idle-failed"
    fi
    if [ "$status" = ok ]; then
        sleep 0.5  # let the server finish the handshakes' work
        held=$(established "$port")
        ((held >= n)) || status="held-$held"  # e.g. select closing what it cannot watch
        watched=$(epoll_watched "$server_pid")
    fi
    if [ "$status" = ok ]; then
        c0=$(cpu_ns "$server_pid")
        times >"$tmp/times0"
        taskset -c 1 "$echo_load" --port "$port" --conns "$conns" --size "$size" \
            --warmup 0 --duration "$duration" >"$load_out" 2>&1 || status=load-failed
        times >"$tmp/times1"
        # Let the server see the load's connections close, so their cost is counted too.
        for _ in $(seq 250); do (($(closing "$port") == 0)) && break; sleep 0.02; done
        c1=$(cpu_ns "$server_pid")
        l0=$(children_cpu "$tmp/times0") l1=$(children_cpu "$tmp/times1")
        line=$(grep 'msgs_per_s=' "$load_out" | tail -1 || true)
        echo "$run $b $n $line" >>"$load_log"
        rate=$(kv msgs_per_s "$line") msgs=$(kv msgs "$line") p99=$(kv p99_us "$line")
        if [ -n "$msgs" ] && ((msgs > 0)); then
            read -r per scpu lcpu < <(awk -v m="$msgs" -v d="$duration" -v c=$((c1 - c0)) -v l0="$l0" -v l1="$l1" \
                'BEGIN { printf "%.3f %.1f %.1f\n", c / 1e3 / m, 100 * c / 1e9 / d, 100 * (l1 - l0) / d }')
        else
            status=load-failed
        fi
        [ "$status" = ok ] || sed 's/^/  echo_load: /' "$load_out" >&2
        kill -0 "$server_pid" 2>/dev/null || status=server-died
        held_min=$(established "$port")
        ((held_min >= n)) || [ "$status" != ok ] || status="held-$held_min"
    fi
    idle_close || [ "$status" != ok ] || status="idle-failed"
    stop_server
    echo "$run $b $n ${rate:--} ${per:--} ${scpu:--} ${lcpu:--} ${p99:--} $held $watched $status" >>"$raw"
    [ "$status" = ok ] || echo "scaling.sh: $b with $n idle, run $run: $status (server log: $logdir/backend:$b.log)" >&2
}

mkdir -p "$out_dir"
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT  # servers.sh's cleanup (idle clients, server), then ours
raw=$out_dir/scaling-runs.dat load_log=$out_dir/scaling-load.log
header="# scaling.sh: $conns active conns x $size B, depth 1, ${duration} s, $runs run(s), median; server on CPU 0, load and idle clients on CPU 1
# $(getconf _NPROCESSORS_ONLN) CPUs; loadavg $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC'); $(uname -r); git $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?')"
{
    echo "$header"
    echo "# run backend idle msgs_per_s cpu_us_per_msg srv_cpu_pct load_cpu_pct p99_us held epoll_watched status"
} >"$raw"
echo "$header" | tee "$load_log" >&2

for run in $(seq "$runs"); do
    for b in "${backends[@]}"; do
        for n in $(counts_for "$b"); do
            echo "# run $run/$runs: $b, $n idle" >&2
            measure "$b" "$n" "$run"
        done
    done
done

# Medians per backend and idle count; the change is against the same backend at its first count.
awk -v sel_max="$select_max" -v asked="${idle_counts[*]}" -v target="$target" -v list="${backends[*]}" \
    -v dat="$out_dir/scaling.dat" -v header="$header" '
    function median(s,   n, a, i, j, t) {
        n = split(s, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : ""
    }
    function pct(v, base) { return base > 0 && v != "" ? sprintf("%+.1f", 100 * (v - base) / base) : "-" }
    function pcts(v, base,   t) { t = pct(v, base); return t == "-" ? t : t "%" }
    function commas(x,   s, t) { s = sprintf("%d", x); t = ""; while (length(s) > 3) { t = "," substr(s, length(s) - 2) t; s = substr(s, 1, length(s) - 3) } return s t }
    /^#/ { next }
    {
        key = $2 SUBSEP $3
        if (!(key in nruns)) { order[$2] = order[$2] " " $3 }
        nruns[key]++
        if ($11 == "ok") { rate[key] = rate[key] " " $4; per[key] = per[key] " " $5; scpu[key] = scpu[key] " " $6; ok[key]++ }
        else failed[key]++
    }
    END {
        nb = split(list, bs, " "); na = split(asked, as, " "); big = 0
        for (i = 1; i <= na; i++) if (as[i] + 0 > big) big = as[i] + 0
        print "| backend | idle conns | msgs/s | change | server µs CPU/msg | change | server CPU % |"
        print "|---|---:|---:|---:|---:|---:|---:|"
        print header > dat
        print "# one block per backend (gnuplot index), medians over the runs; change_* in % against the same backend at its first idle count" > dat
        print "# backend idle msgs_per_s cpu_us_per_msg srv_cpu_pct change_rate_pct change_cpu_pct ok_runs note" > dat
        missed = 0; block = 0
        for (i = 1; i <= nb; i++) {
            b = bs[i]; nc = split(order[b], cs, " ")
            if (!nc) continue
            if (block++) printf "\n\n" > dat
            printf "# %s\n", b > dat
            r0 = ""; p0 = ""
            for (k = 1; k <= nc; k++) {
                n = cs[k]; key = b SUBSEP n
                r = median(rate[key]); p = median(per[key]); s = median(scpu[key])
                if (k == 1) { r0 = r; p0 = p }
                capped = (b == "select" && n == sel_max && big > sel_max)
                label = commas(n) (capped ? " (select: FD_SETSIZE limit)" : "")
                if (failed[key]) label = label " [" failed[key] "/" nruns[key] " runs failed]"
                printf "| %s | %s | %s | %s | %s | %s | %s |\n", b, label, r == "" ? "-" : sprintf("%.0f", r),
                    k == 1 ? "" : pcts(r, r0), p == "" ? "-" : sprintf("%.2f", p), k == 1 ? "" : pcts(p, p0),
                    s == "" ? "-" : sprintf("%.0f", s)
                if (r != "")
                    printf "%s %d %.0f %.3f %.1f %s %s %d %s\n", b, n, r, p, s, pct(r, r0), pct(p, p0), ok[key] + 0,
                        capped ? "fd_setsize_limit" : "-" > dat
                last_r[b] = r; last_p[b] = p; last_n[b] = n; first_n[b] = cs[1]
            }
        }
        print "# msgs/s compares well only between rows with a similar server CPU %: below ~90% the server waited for the load generator (CPU 1) or lost CPU 0 to other processes; CPU/msg depends on that much less (batching still changes when the server is preempted)"
        printf "# change: against the same backend at %s idle", commas(as[1] + 0)
        if (("select" SUBSEP sel_max) in nruns && big > sel_max)
            printf "; select is capped at %s idle connections (FD_SETSIZE 1024 minus its active ones and own descriptors)", commas(sel_max)
        print ""
        for (i = 1; i <= nb; i++) {
            b = bs[i]
            if (!(b in last_n) || last_n[b] == first_n[b]) continue
            r0 = median(rate[b SUBSEP first_n[b]]); p0 = median(per[b SUBSEP first_n[b]])
            if (r0 == "" || p0 == "" || last_r[b] == "" || last_p[b] == "") continue
            loss_r = 100 * (r0 - last_r[b]) / r0; loss_p = 100 * (last_p[b] - p0) / p0
            if (b ~ /^(epoll|epoll-et|kqueue|io_uring|uring)$/) {
                ok_t = loss_p <= target
                if (!ok_t) missed = 1
                printf "# %s: %s -> %s idle: msgs/s %+.1f%%, CPU/msg %+.1f%%: %s (target: CPU/msg up <= %s%%)\n", b,
                    commas(first_n[b]), commas(last_n[b]), -loss_r, loss_p, ok_t ? "met" : "MISSED", target
            } else {
                printf "# %s: %s -> %s idle: msgs/s %+.1f%%, CPU/msg %+.1f%%; %+.3f µs CPU per message per 1,000 idle connections\n", b,
                    commas(first_n[b]), commas(last_n[b]), -loss_r, loss_p,
                    (last_p[b] - p0) / ((last_n[b] - first_n[b]) / 1000)
            }
        }
        exit missed
    }' "$raw" | tee "$out_dir/scaling.md" || target_missed=1
echo "# data: $out_dir/scaling.dat (medians), $raw (runs), $load_log (echo_load's lines); plot: bench/plot_scaling.sh" >&2
grep -v '^#' "$raw" | awk '$11 != "ok" { bad = 1 } END { exit bad }' || die "some runs failed (status column of $raw)"
((${target_missed:-0} == 0)) || die "a target was missed (see the table)"
