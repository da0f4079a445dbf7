# SPDX-License-Identifier: MIT
# servers.sh: sourced by the bench scripts; names the echo servers and starts/stops them on loopback.
# shellcheck shell=bash
#
# BUILD        corio build dir holding examples/echo_server and bench/* [repo/build/release]
# SHARED_BENCH the shared harness with compare.sh and build/ [repo/../shared/bench]
# PORT         first port tried; every start takes the next free one [19700]

repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
BUILD=${BUILD:-$repo/build/release}
SHARED_BENCH=${SHARED_BENCH:-$repo/../shared/bench}
next_port=${PORT:-19700}
logdir=${TMPDIR:-/tmp}/corio-bench  # each server's stderr, overwritten run by run
mkdir -p "$logdir"

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# server_cmd NAME: the command line of a server, with {port} still in it.
server_cmd() {
    case "$1" in
        corio) echo "$BUILD/examples/echo_server --drain-seconds 0 --backend epoll --port {port}" ;;
        corio-et) echo "$BUILD/examples/echo_server --drain-seconds 0 --backend epoll-et --port {port}" ;;
        # --threads N loops, each with its own SO_REUSEPORT listener (run with PEER_THREADS=N).
        corio-t[0-9]*) echo "$BUILD/examples/echo_server --drain-seconds 0 --backend epoll --threads ${1#corio-t} --port {port}" ;;
        corio-uring) echo "$BUILD/examples/echo_server --drain-seconds 0 --backend io_uring --stats --port {port}" ;;
        # An earlier build's echo_server (BASE_BUILD), for before/after tables in one run.
        corio-base) echo "${BASE_BUILD:?set BASE_BUILD}/examples/echo_server --drain-seconds 0 --backend epoll --port {port}" ;;
        corio-base-uring) echo "${BASE_BUILD:?set BASE_BUILD}/examples/echo_server --drain-seconds 0 --backend io_uring --port {port}" ;;
        thread-per-client) echo "$BUILD/bench/thread_per_client_echo {port}" ;;
        epoll | asio | tokio) echo "$SHARED_BENCH/build/${1}_echo {port}" ;;
        *) die "unknown server '$1'" ;;
    esac
}

need() { for f; do [ -x "$f" ] || die "$f is missing (build with -DCORIO_BUILD_BENCH=ON; see bench/README.md)"; done; }
listening() { [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; }

# start_server NAME: starts it pinned to CPU 0 on a free port; sets server_pid and port.
start_server() {
    local cmd
    cmd=$(server_cmd "$1")
    need "${cmd%% *}"
    port=$next_port
    while listening "$port"; do port=$((port + 1)); done
    next_port=$((port + 1))
    # shellcheck disable=SC2086  # the command line is split into words on purpose
    taskset -c 0 ${cmd//\{port\}/$port} >/dev/null 2>"$logdir/$1.log" &
    server_pid=$!
    for _ in $(seq 100); do
        listening "$port" && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    die "$1 did not listen on port $port (see $logdir/$1.log)"
}

# stop_server: TERM, then KILL after 2 s.
stop_server() {
    [ -n "${server_pid:-}" ] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# rss_kb PID: resident set size in KiB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# open_idle N: coprocess idle_clients (CPU 1) holding N connections to $port; waits for `ready`.
open_idle() {
    local line
    need "$BUILD/bench/idle_clients"
    coproc idle { exec taskset -c 1 "$BUILD/bench/idle_clients" --port "$port" --conns "$1"; }
    # shellcheck disable=SC2154  # idle_PID is set by coproc
    idle_pid=$idle_PID idle_out=${idle[0]} idle_in=${idle[1]}  # bash unsets idle when it exits
    read -r -t 300 -u "$idle_out" line || true
    [ "$line" = "ready $1" ] || die "idle_clients did not get ready with $1 connections"
}

# close_idle: closes idle_clients' stdin, which makes it exit; fails unless it exits 0.
close_idle() {
    [ -n "${idle_pid:-}" ] || return 0
    exec {idle_in}>&-
    wait "$idle_pid" || die "idle_clients failed"
    idle_pid=""
}

helper_pids=()  # other processes a script starts (strace, load generators): killed on exit
cleanup() {
    [ -z "${idle_pid:-}" ] || kill -TERM "$idle_pid" 2>/dev/null || true
    for p in "${helper_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    stop_server
}
trap cleanup EXIT
trap 'exit 130' INT TERM
