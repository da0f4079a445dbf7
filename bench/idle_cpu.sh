#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# idle_cpu.sh: CPU the corio echo server burns while 1000 connections sit idle (target <= 1%).
#
#   bench/idle_cpu.sh               env: BUILD, PORT (see servers.sh), SERVERS [corio corio-et],
#                                   CONNS [1000], SECONDS_IDLE [5], TARGET_PCT [1]
# Exits 1 if a server uses more than TARGET_PCT of one core.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

read -ra servers <<<"${SERVERS:-corio corio-et}"
conns=${CONNS:-1000} window=${SECONDS_IDLE:-5} target=${TARGET_PCT:-1}
hz=$(getconf CLK_TCK)
over=0
# cpu_ticks PID: utime + stime (fields 14 and 15 of /proc/PID/stat; the name in field 2 has no spaces here)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

echo "| server | idle conns | CPU over ${window} s | % of one core |"
echo "|---|---:|---:|---:|"
for s in "${servers[@]}"; do
    start_server "$s"
    open_idle "$conns"
    sleep 1  # let the server finish the handshakes' work before the window opens
    t0=$(cpu_ticks "$server_pid")
    sleep "$window"
    t1=$(cpu_ticks "$server_pid")
    close_idle
    stop_server
    pct=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v w="$window" 'BEGIN { printf "%.2f", 100 * d / hz / w }')
    echo "| $s | $conns | $(((t1 - t0) * 1000 / hz)) ms | $pct |"
    awk -v p="$pct" -v t="$target" 'BEGIN { exit !(p > t) }' && over=1
done
echo "# target <= $target% of one core; resolution $((1000 / hz)) ms of CPU time per window"
((over == 0)) || die "a server used more than $target% of a core while idle"
