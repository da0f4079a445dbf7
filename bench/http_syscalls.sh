#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# http_syscalls.sh: system calls per HTTP request (strace -c on the server) under wrk -c50, with and
# without pipelining, for corio's http_server and the bare epoll C peer.
#
#   bench/http_syscalls.sh          env: BUILD, SHARED_BENCH, PORT (see servers.sh),
#                                   SERVERS [corio epoll], PIPELINES [1 16], DURATION [3]
# strace slows the server several times over; only the counts per request are meaningful.
# With pipelining, "writes per read" is the one to watch: at most 1 means one write per batch.
# Calls under 0.0005 per request for every server (accepting, setup) are left out of the table.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

read -ra servers <<<"${SERVERS:-corio epoll}"
tmp=$(mktemp -d)
command -v strace >/dev/null || die "strace is not installed"
command -v wrk >/dev/null || die "wrk is not installed (the shared bench's build.sh installs it)"

http_cmd() {
    case "$1" in
        corio) echo "$BUILD/examples/http_server --backend epoll --port {port}" ;;
        corio-uring) echo "$BUILD/examples/http_server --backend io_uring --port {port}" ;;
        epoll | asio) echo "$SHARED_BENCH/build/${1}_http {port}" ;;
        *) die "unknown server '$1'" ;;
    esac
}
server_cmd() { http_cmd "$@"; }  # start_server (servers.sh) asks for the command by this name

for depth in ${PIPELINES:-1 16}; do
    script=$SHARED_BENCH/report.lua args=()
    ((depth == 1)) || { script=$SHARED_BENCH/pipeline.lua; args=(-- "$depth"); }
    for s in "${servers[@]}"; do
        start_server "$s"
        strace -c -f -p "$server_pid" -o "$tmp/$s.strace" 2>/dev/null &
        helper_pids=($!)
        sleep 0.5  # let strace attach
        out=$(taskset -c 1 wrk -t1 -c50 -d"${DURATION:-3}s" -s "$script" \
            "http://127.0.0.1:$port/plaintext" "${args[@]}") || die "wrk failed against $s: $out"
        kill -INT "${helper_pids[0]}"
        wait "${helper_pids[0]}" || true
        helper_pids=()
        stop_server
        requests=$(grep -o 'WRK_RESULT requests=[0-9]*' <<<"$out" | cut -d= -f2)
        [ -n "$requests" ] && ((requests > 0)) || die "wrk completed no request against $s"
        awk -v s="$s" -v d="$depth" -v n="$requests" '/^ *[0-9]/ && $NF != "total" { print d, s, $NF, $4, n }' \
            "$tmp/$s.strace" >>"$tmp/all"
    done
done

awk -v list="${servers[*]}" '
    function is_read(c) { return c ~ /^(read|recvfrom|recvmsg|readv)$/ }
    function is_write(c) { return c ~ /^(write|sendto|sendmsg|writev|sendfile)$/ }
    { per[$1, $2, $3] = $4 / $5; tot[$1, $2] += $4 / $5; req[$1, $2] = $5
      if (is_read($3)) rd[$1, $2] += $4; if (is_write($3)) wr[$1, $2] += $4
      if (!(($1, $3) in seen)) { seen[$1, $3]; names[$1] = names[$1] " " $3 }
      if (!($1 in dseen)) { dseen[$1]; order[++nd] = $1 } }
    END {
        n = split(list, sv, " ")
        for (k = 1; k <= nd; k++) {
            d = order[k]
            printf "| pipeline %s: syscalls per request |", d; for (i = 1; i <= n; i++) printf " %s |", sv[i]; print ""
            printf "|---|"; for (i = 1; i <= n; i++) printf "---:|"; print ""
            m = split(names[d], cn, " ")
            for (a = 1; a <= m; a++) {
                big = 0; for (i = 1; i <= n; i++) if (per[d, sv[i], cn[a]] >= 0.0005) big = 1
                if (!big) continue  # setup calls (accept, getpeername, ...): 0.000 for everyone
                printf "| %s |", cn[a]; for (i = 1; i <= n; i++) printf " %.3f |", per[d, sv[i], cn[a]]; print ""
            }
            printf "| **total** |"; for (i = 1; i <= n; i++) printf " **%.3f** |", tot[d, sv[i]]; print ""
            printf "| writes per read |"; for (i = 1; i <= n; i++) printf " %.3f |", rd[d, sv[i]] ? wr[d, sv[i]] / rd[d, sv[i]] : 0; print ""
            printf "| requests (under strace) |"; for (i = 1; i <= n; i++) printf " %d |", req[d, sv[i]]; print "\n"
        }
    }' "$tmp/all"
rm -rf "$tmp"
