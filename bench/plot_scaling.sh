#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# plot_scaling.sh: draws scaling.sh's medians as a PNG: server CPU per echoed message against the
# number of idle connections, one line per backend.
#
#   bench/plot_scaling.sh [DATA [PNG]]   defaults: <repo>/bench/results/scaling.dat,
#                                        <repo>/docs/backends-scaling.png
# Installs gnuplot-nox with apt-get when gnuplot is missing (as root, or through sudo).
set -euo pipefail

repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
dat=${1:-$repo/bench/results/scaling.dat}
png=${2:-$repo/docs/backends-scaling.png}
die() { echo "plot_scaling.sh: $*" >&2; exit 1; }

[ -r "$dat" ] || die "$dat is missing: run bench/scaling.sh first"
if ! command -v gnuplot >/dev/null; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    echo "plot_scaling.sh: installing gnuplot-nox" >&2
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends gnuplot-nox ||
        { "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends gnuplot-nox; } ||
        die "gnuplot-nox could not be installed"
fi

# scaling.dat: one block per backend (separated by two blank lines), rows
# "backend idle msgs_per_s cpu_us_per_msg srv_cpu_pct change_rate_pct change_cpu_pct ok_runs note".
names=$(awk '!/^#/ && NF && !seen[$1]++ { printf "%s ", $1 }' "$dat")
[ -n "$names" ] || die "$dat holds no data rows"
blocks=$(wc -w <<<"$names")
# The point where select stops (note fd_setsize_limit) gets a label, on the side with room.
limit_label=$(awk '!/^#/ && NF { if ($2 > xmax) xmax = $2; if ($9 == "fd_setsize_limit") { x = $2; y = $4 } }
    END { if (x != "") printf "set label 1 \"select stops here: FD_SETSIZE (%d idle)\" at %d,%s %s noenhanced font \",9\"\n",
          x, x, y, x < xmax / 2 ? "left offset 1,-0.8" : "right offset -1,0.8" }' "$dat")
setup=$(sed -n '1,2{s/^# //; s/"/\\"/g; p}' "$dat" | head -1 | sed 's/; server on.*//')

mkdir -p "$(dirname "$png")"
gnuplot <<EOF
set terminal pngcairo size 900,560 font "sans,10"
set output "$png"
set title "corio echo server: CPU per message with idle connections\n{/*0.8 $setup}"
set xlabel "idle connections (besides the active ones)"
set ylabel "server CPU per echoed message (µs, log scale)"
set key top left box opaque noenhanced
set grid xtics ytics mytics
set autoscale xfix
# log y: the flat backends stay readable next to poll's growth (a straight rise on linear axes)
set logscale y
set ytics (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
set mytics 10
set autoscale yfix
set offsets graph 0.03, graph 0.03, graph 0.1, graph 0.1
# (gnuplot's default fifth colour, yellow, is hard to see on white)
do for [k = 1:8] { set linetype k lw 2 lc rgb word("#1f77b4 #d62728 #2ca02c #ff7f0e #9467bd #8c564b #e377c2 #17becf", k) }
set format x "%.0f"
$limit_label
names = "$names"
plot for [i = 1:$blocks] "$dat" index (i - 1) using 2:4 with linespoints lt i pt (i + 3) ps 1.3 title word(names, i)
EOF
echo "plot_scaling.sh: wrote $png" >&2
