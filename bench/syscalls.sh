#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# syscalls.sh: system calls per echoed message (strace -c on the server) for corio and bare epoll.
#
#   bench/syscalls.sh               env: BUILD, SHARED_BENCH, PORT (see servers.sh),
#                                   SERVERS [corio corio-et epoll], CONNS [50], SIZE [512], DURATION [3]
# strace slows the server several times over; only the counts per message are meaningful.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

read -ra servers <<<"${SERVERS:-corio corio-et epoll}"
conns=${CONNS:-50}
tmp=$(mktemp -d)
need "$SHARED_BENCH/build/echo_load"
command -v strace >/dev/null || die "strace is not installed"

for s in "${servers[@]}"; do
    start_server "$s"
    strace -c -f -p "$server_pid" -o "$tmp/$s.strace" 2>/dev/null &
    helper_pids=($!)
    sleep 0.5  # let strace attach to every thread
    out=$(taskset -c 1 "$SHARED_BENCH/build/echo_load" --port "$port" --conns "$conns" \
        --size "${SIZE:-512}" --duration "${DURATION:-3}" --warmup 0) || die "echo_load failed against $s: $out"
    kill -INT "${helper_pids[0]}"
    wait "${helper_pids[0]}" || true
    helper_pids=()
    stop_server
    msgs=$(grep -o '\bmsgs=[0-9]*' <<<"$out" | cut -d= -f2)
    echo "$s: $out" >&2
    # "% time  seconds  usecs/call  calls  [errors]  syscall": calls is field 4 on every row.
    awk -v s="$s" -v m="$msgs" '/^ *[0-9]/ && $NF != "total" { print s, $NF, $4, m }' "$tmp/$s.strace" >>"$tmp/all"
done
rm -rf "$tmp/"*.strace

awk -v conns="$conns" -v list="${servers[*]}" '
    { per[$1, $2] = $3 / $4; tot[$1] += $3 / $4; calls[$1, $2] = $3; seen[$2] += $3 / $4 }
    END {
        n = split(list, sv, " ")
        printf "| syscalls per message |"; for (i = 1; i <= n; i++) printf " %s |", sv[i]; print ""
        printf "|---|"; for (i = 1; i <= n; i++) printf "---:|"; print ""
        k = 0; for (name in seen) names[++k] = name
        for (a = 1; a <= k; a++) for (b = a + 1; b <= k; b++)      # most frequent first
            if (seen[names[b]] > seen[names[a]]) { t = names[a]; names[a] = names[b]; names[b] = t }
        for (a = 1; a <= k; a++) {
            printf "| %s |", names[a]
            for (i = 1; i <= n; i++) printf " %.3f |", per[sv[i], names[a]]
            print ""
        }
        printf "| **total** |"; for (i = 1; i <= n; i++) printf " **%.3f** |", tot[sv[i]]; print ""
        base = sv[n]
        for (i = 1; i < n; i++)
            if (tot[base] > 0) printf "# total ratio %s/%s: %.2f\n", sv[i], base, tot[sv[i]] / tot[base]
        for (i = 1; i <= n; i++)
            printf "# %s: epoll_ctl %d calls = %.4f per message, %.2f per connection\n", sv[i],
                calls[sv[i], "epoll_ctl"], per[sv[i], "epoll_ctl"], calls[sv[i], "epoll_ctl"] / conns
        print "# epoll_ctl: at most 2 per connection (ADD; DEL if the close fell inside the window) means none in steady state"
    }' "$tmp/all"
rm -rf "$tmp"
