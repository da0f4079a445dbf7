#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# udp_echo as a user runs it, checked with udp_client: on --port 0 it prints where it listens,
# echoes small, empty and near-maximal datagrams byte for byte (also to IPv4 clients of a
# dual-stack [::] server, where the machine has IPv6), refuses bad arguments with exit 2, and
# exits 0 on SIGTERM and on SIGINT.
#
#   udp_echo_test.sh EXAMPLES_BUILD_DIR [BACKEND]      exit 0 when every check passes
set -euo pipefail
bin=$1
backend=${2:-epoll}
tmp=$(mktemp -d)
fail() { echo "udp_echo_test: $*" >&2; exit 1; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }
cleanup() {
    [ -z "${srv_pid:-}" ] || kill -KILL "$srv_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# start HOST: runs udp_echo on HOST port 0 (timeout is the deadline); sets srv_pid and port.
start() {
    coproc srv { exec timeout --foreground -s KILL 30 "$bin/udp_echo" --host "$1" --port 0 --backend "$backend" 2>"$tmp/err"; }
    srv_pid=$srv_PID
    read -r -t 10 -u "${srv[0]}" line || fail "no 'listening on' line within 10 s: $(cat "$tmp/err")"
    [[ $line =~ ^listening\ on\ (.*):([0-9]+)\ \((.*)\)$ ]] || fail "unexpected first line '$line'"
    port=${BASH_REMATCH[2]}
    expect "backend" "${BASH_REMATCH[3]}" "$backend"
}
# stop SIG: sends SIG and expects exit status 0.
stop() {
    kill -"$1" "$srv_pid"
    local rc=0
    wait "$srv_pid" || rc=$?
    srv_pid=""
    expect "exit status after SIG$1 ($(cat "$tmp/err"))" "$rc" 0
}
# client HOST COUNT SIZE: every datagram must come back intact.
client() {
    local out
    out=$(timeout 20 "$bin/udp_client" --host "$1" --port "$port" --count "$2" --size "$3" --backend "$backend") ||
        fail "udp_client --host $1 --count $2 --size $3: $out"
    expect "udp_client summary" "$out" "sent=$2 received=$2 lost=0 mismatches=0"
}

start 127.0.0.1
client 127.0.0.1 300 64
client 127.0.0.1 3 0
client 127.0.0.1 3 65507
stop TERM

start 127.0.0.1
client 127.0.0.1 20 512
stop INT

# A dual-stack server: IPv4 clients too (skipped where the machine has no IPv6).
if [ -e /proc/net/if_inet6 ] && grep -q . /proc/net/if_inet6; then
    start ::
    client localhost 20 100
    client ::1 20 100
    client 127.0.0.1 20 100
    stop TERM
else
    echo "udp_echo_test: WARN: no IPv6 on this machine; the dual-stack server is not tested" >&2
fi

rc=0
"$bin/udp_echo" --port 70000 >/dev/null 2>&1 || rc=$?
expect "exit status for --port 70000" "$rc" 2
rc=0
"$bin/udp_echo" --bogus >/dev/null 2>&1 || rc=$?
expect "exit status for an unknown argument" "$rc" 2
"$bin/udp_echo" --help | grep -q '^usage: udp_echo' || fail "--help prints no usage"
echo "udp_echo_test: ok ($backend)"
