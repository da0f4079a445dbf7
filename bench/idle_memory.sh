#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# idle_memory.sh: resident memory per idle connection, (VmRSS_N - VmRSS_0) / N, for each echo server.
#
#   bench/idle_memory.sh            env: BUILD, SHARED_BENCH, PORT (see servers.sh),
#                                   SERVERS, COUNTS, TPC_MAX [1000] caps thread-per-client's N
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

read -ra servers <<<"${SERVERS:-corio corio-et thread-per-client asio tokio epoll}"
read -ra counts <<<"${COUNTS:-100 1000 10000}"
tpc_max=${TPC_MAX:-1000}

commas() { sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' <<<"$1"; }
printf '| server (bytes/conn) | %s | RSS at %s clients (MB) |\n' "$(commas "${counts[*]}" | sed 's/ / | /g')" "${counts[0]}"
printf '|---|%s---:|\n' "$(printf -- '---:|%.0s' "${counts[@]}")"
for s in "${servers[@]}"; do
    row="| $s |" first_mb=-
    for n in "${counts[@]}"; do
        if [ "$s" = thread-per-client ] && ((n > tpc_max)); then
            row+=" capped at $tpc_max threads |"
            continue
        fi
        start_server "$s"
        rss0=$(rss_kb "$server_pid")
        open_idle "$n"
        rss=$(rss_kb "$server_pid")
        close_idle
        stop_server
        row+=" $(((rss - rss0) * 1024 / n)) |"
        [ "$n" != "${counts[0]}" ] || first_mb=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
    done
    echo "$row $first_mb |"
done
echo "# bytes per connection = (VmRSS with N idle connections - VmRSS after listen) / N; server on CPU 0"
