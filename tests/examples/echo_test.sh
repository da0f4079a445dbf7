#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# echo_server and echo_client as a user runs them, with host names: the server on
# --host localhost prints where it listens (the first address localhost resolves to) and the
# client, given --host localhost, connects there by Happy Eyeballs and gets every byte back. A
# name that does not resolve is a usage error (exit 2) that says why. SIGTERM ends the server
# with status 0.
#
#   echo_test.sh PATH_TO_ECHO_SERVER PATH_TO_ECHO_CLIENT [BACKEND]   exit 0 when every check passes
set -euo pipefail
server=$1
client=$2
backend=${3:-epoll}
tmp=$(mktemp -d)
fail() { echo "echo_test: $*" >&2; exit 1; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }
cleanup() {
    [ -z "${srv_pid:-}" ] || kill -KILL "$srv_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# timeout is the deadline (see http_server_test.sh for --foreground).
coproc srv { exec timeout --foreground -s KILL 30 "$server" --host localhost --port 0 --backend "$backend" 2>"$tmp/err"; }
srv_pid=$srv_PID
read -r -t 10 -u "${srv[0]}" line || fail "no 'listening on' line within 10 s: $(cat "$tmp/err")"
# localhost is 127.0.0.1, or ::1 first where /etc/hosts lists it so (RFC 6724 order).
[[ $line =~ ^listening\ on\ (127\.0\.0\.1|\[::1\]):([0-9]+)\ \((.*)\)$ ]] || fail "unexpected first line '$line'"
port=${BASH_REMATCH[2]}
expect "backend" "${BASH_REMATCH[3]}" "$backend"

out=$(timeout 20 "$client" --host localhost --port "$port" --conns 4 --count 200 --size 512 --backend "$backend") ||
    fail "echo_client --host localhost failed: $out"
[[ $out =~ conns=4\ messages=800\ bytes=409600\ .*\ mismatches=0$ ]] || fail "unexpected client summary '$out'"

rc=0
err=$("$client" --host "$(printf 'x%.0s' {1..64}).invalid" --port "$port" 2>&1) || rc=$?
expect "exit status for a name that does not resolve" "$rc" 2
[[ $err == *"does not resolve: host or service not found"* ]] || fail "unexpected message '$err'"

kill -TERM "$srv_pid"
rc=0
wait "$srv_pid" || rc=$?
srv_pid=""
expect "server exit status after SIGTERM" "$rc" 0
echo "echo_test: ok ($backend)"
