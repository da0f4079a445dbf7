#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# unix_echo as a user runs it, with unix_client (stdin to the socket, the echo to stdout) as
# the client: a stale socket file left by a killed server is replaced at start; 1 MiB of random
# bytes comes back exactly; a second server on the live socket, or on a regular file, fails
# and removes nothing; SIGTERM and SIGINT end it with status 0 and its socket file gone; an
# abstract '@name' works; --help exits 0, a missing or too-long --path exits 2.
#
#   unix_echo_test.sh EXAMPLES_BUILD_DIR [BACKEND]   exit 0 when every check passes
set -euo pipefail
bin=$1
backend=${2:-epoll}
server=$bin/unix_echo
client=$bin/unix_client
tmp=$(mktemp -d /tmp/corio-unix-echo-XXXXXX)
sock=$tmp/echo.sock
fail() { echo "unix_echo_test: $*" >&2; exit 1; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }
cleanup() {
    [ -z "${srv_pid:-}" ] || kill -KILL "$srv_pid" 2>/dev/null || true
    [ -z "${victim_pid:-}" ] || kill -KILL "$victim_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# Starts the server on $1 and waits for its first line (timeout is the deadline; see
# http_server_test.sh for --foreground).
start() {
    coproc srv { exec timeout --foreground -s KILL 30 "$server" --path "$1" --backend "$backend" 2>>"$tmp/err"; }
    srv_pid=$srv_PID
    read -r -t 10 -u "${srv[0]}" line || fail "no 'listening on' line within 10 s: $(cat "$tmp/err")"
    expect "first line" "$line" "listening on $1 ($backend)"
}
# Sends $1's bytes through the server at $2 and checks they come back exactly.
echo_check() {
    timeout 20 "$client" --path "$2" --backend "$backend" <"$1" >"$tmp/out" || fail "unix_client failed"
    cmp -s "$1" "$tmp/out" || fail "the echo of $1 differs ($(wc -c <"$tmp/out") bytes back)"
}
# Signals the server and checks it exits 0.
stop() {
    kill "-$1" "$srv_pid"
    rc=0
    wait "$srv_pid" || rc=$?
    srv_pid=""
    expect "exit status after SIG$1" "$rc" 0
}

head -c 1048576 /dev/urandom >"$tmp/in"

# A server killed outright leaves its socket file: the next one must replace it. (Not under
# timeout: SIGKILL must reach the server itself, and timeout cannot pass it on.)
coproc victim { exec "$server" --path "$sock" --backend "$backend" 2>>"$tmp/err"; }
victim_pid=$victim_PID
read -r -t 10 -u "${victim[0]}" line || fail "no 'listening on' line within 10 s: $(cat "$tmp/err")"
{ kill -KILL "$victim_pid" && wait "$victim_pid"; } 2>/dev/null || true
victim_pid=""
# On io_uring the kernel tears a dead process's ring down asynchronously, and a pending accept
# keeps the listening socket open a few milliseconds after the process is gone: until it leaves
# /proc/net/unix a connect still succeeds, so the socket is live, not stale (docs/unix.md).
for _ in $(seq 200); do
    grep -qF " $sock" /proc/net/unix || break
    sleep 0.05
done
! grep -qF " $sock" /proc/net/unix || fail "the killed server's socket is still listening after 10 s"
[ -S "$sock" ] || fail "a SIGKILLed server left no socket file to test with"
start "$sock"
[ -S "$sock" ] || fail "no socket file at $sock"
echo_check "$tmp/in" "$sock"

# A live socket is not stale: a second server fails and leaves it, and the first still echoes.
rc=0
err=$("$server" --path "$sock" --backend "$backend" 2>&1) || rc=$?
expect "second server's exit status" "$rc" 1
[[ $err == *"Address already in use"* ]] || fail "unexpected message '$err'"
echo_check "$tmp/in" "$sock"

# A regular file is never removed.
echo precious >"$tmp/file"
rc=0
"$server" --path "$tmp/file" --backend "$backend" >/dev/null 2>&1 || rc=$?
expect "exit status on a regular file" "$rc" 1
expect "the regular file" "$(cat "$tmp/file")" precious

stop TERM
[ ! -e "$sock" ] || fail "the socket file is still there after SIGTERM"

start "$sock"
stop INT
[ ! -e "$sock" ] || fail "the socket file is still there after SIGINT"

name="@corio-unix-echo-test-$$"
start "$name"
echo_check "$tmp/in" "$name"
stop TERM

rc=0
"$server" --help >/dev/null || rc=$?
expect "--help exit status" "$rc" 0
rc=0
"$server" --backend "$backend" >/dev/null 2>&1 || rc=$?
expect "exit status without --path" "$rc" 2
rc=0
err=$("$server" --path "$tmp/$(printf 'x%.0s' {1..120})" 2>&1) || rc=$?
expect "exit status for a too-long path" "$rc" 2
[[ $err == *"File name too long"* ]] || fail "unexpected message '$err'"
echo "unix_echo_test: ok ($backend)"
