#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The chat_server example as a user runs it: lines one client sends reach every other client
# exactly and in order; a client that never reads is dropped once its backlog is full while the
# others still receive everything; a client that vanishes is cleaned up (announced as left, the
# count of clients online drops); SIGTERM and SIGINT each exit 0; --help exits 0 and a bad
# argument 2.
#
#   chat_server_test.sh EXAMPLES_BUILD_DIR [BACKEND]      exit 0 when every check passes
set -euo pipefail
server=$1/chat_server
backend=${2:-epoll}
tmp=$(mktemp -d)
pids=()
fail() { echo "chat_server_test: $*" >&2; [ ! -s "$tmp/err" ] || sed 's/^/  server: /' "$tmp/err" >&2; exit 1; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }
cleanup() {
    [ -z "${srv_pid:-}" ] || kill -KILL "$srv_pid" 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
# Waits (at most $1 seconds) until the command after it succeeds: output is awaited, not timed.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}
lines_in() { grep -c -- "$2" "$1" 2>/dev/null || true; }
has_at_least() { [ "$(lines_in "$1" "$2")" -ge "$3" ]; }

expect "--help exit status" "$("$server" --help >/dev/null; echo $?)" 0
rc=0
"$server" --backlog 0 2>/dev/null || rc=$?
expect "exit status for --backlog 0" "$rc" 2

# start_server ARGS...: runs it on port 0 and sets $port from its first line.
start_server() {
    # timeout is the deadline; --foreground so that only our signal reaches the server.
    coproc srv { exec timeout --foreground -s KILL 60 "$server" --port 0 --backend "$backend" "$@" 2>"$tmp/err"; }
    srv_pid=$srv_PID
    local line
    read -r -t 10 -u "${srv[0]}" line || fail "no 'listening on' line within 10 s"
    [[ $line =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)\ \((.*)\)$ ]] || fail "unexpected first line '$line'"
    port=${BASH_REMATCH[1]}
    expect "backend" "${BASH_REMATCH[2]}" "$backend"
}
# connect FD: opens a client on descriptor FD, reads its welcome line and sets $id to its number.
connect() {
    eval "exec $1<>/dev/tcp/127.0.0.1/$port"
    local welcome
    read -r -t 10 -u "$1" welcome || fail "no welcome line on fd $1"
    [[ $welcome =~ ^\*\ welcome,\ you\ are\ ([0-9]+)\; ]] || fail "unexpected welcome '$welcome'"
    id=${BASH_REMATCH[1]}
}
stop_server() {
    kill "-$1" "$srv_pid"
    local rc=0
    wait "$srv_pid" || rc=$?
    srv_pid=""
    expect "exit status after SIG$1" "$rc" 0
}

start_server --backlog 8
connect 4; b=$id
cat <&4 >"$tmp/b.out" & pids+=($!)
connect 5; c=$id
cat <&5 >"$tmp/c.out" & pids+=($!)
connect 6; slow=$id  # never reads again
connect 3; a=$id

# A client that vanishes: the others hear it left, and the count online went back to 4.
connect 7; gone=$id
exec 7<&-
wait_for 10 has_at_least "$tmp/b.out" "^\* $gone left (4 online)$" 1 || fail "client $gone's departure was not announced"

# 30000 lines of ~500 bytes (15 MB): far more than the kernel's socket buffers hold for the
# client that does not read (at most a few MB) plus its 8-line backlog.
count=30000
awk -v n=$count 'BEGIN { pad = sprintf("%480s", ""); gsub(/ /, "x", pad); for (i = 1; i <= n; i++) printf "line %d %s\n", i, pad }' >"$tmp/sent"
sed "s/^/$a: /" "$tmp/sent" >"$tmp/expected"
cat "$tmp/sent" >&3
for who in b c; do
    wait_for 60 has_at_least "$tmp/$who.out" "^$a: " "$count" ||
        fail "client $who got $(lines_in "$tmp/$who.out" "^$a: ") of $count lines"
    grep "^$a: " "$tmp/$who.out" | cmp -s - "$tmp/expected" || fail "client $who's lines differ from those sent"
    grep -q "^\* $slow dropped: not reading (8 lines queued)$" "$tmp/$who.out" ||
        fail "client $who was not told that client $slow was dropped"
done
# The dropped client's connection was closed: what was in flight, then end of stream.
timeout 20 cat <&6 >"$tmp/slow.out" || fail "the dropped client's connection stayed open"
got=$(lines_in "$tmp/slow.out" "^$a: ")
[ "$got" -lt "$count" ] || fail "the client that did not read got all $count lines: it was never dropped"
exec 6<&-

# Lines from several clients: each one's lines reach the others in the order it sent them.
printf 'from b %d\n' 1 2 3 >&4
printf 'from c %d\n' 1 2 3 >&5
wait_for 10 has_at_least "$tmp/c.out" "^$b: from b" 3 || fail "client c did not get b's lines"
wait_for 10 has_at_least "$tmp/b.out" "^$c: from c" 3 || fail "client b did not get c's lines"
expect "b's lines at c" "$(grep "^$b: " "$tmp/c.out" | tr '\n' ' ')" "$b: from b 1 $b: from b 2 $b: from b 3 "
expect "c's lines at b" "$(grep "^$c: " "$tmp/b.out" | tr '\n' ' ')" "$c: from c 1 $c: from c 2 $c: from c 3 "
expect "b's own lines at b" "$(lines_in "$tmp/b.out" "^$b: ")" 0

stop_server TERM
# Every client saw its connection end: the readers' cats finished.
wait_for 10 eval '! kill -0 "${pids[0]}" 2>/dev/null && ! kill -0 "${pids[1]}" 2>/dev/null' ||
    fail "clients stayed connected after SIGTERM"
exec 3<&- 4<&- 5<&-

start_server --max-line 10
connect 3; a=$id
connect 4; b=$id
read -r -t 10 -u 3 joined || fail "no announcement that $b joined"
expect "announcement" "$joined" "* $b joined (2 online)"
printf '0123456789\nthis one is too long\nok\n' >&3
read -r -t 10 -u 4 l1 || fail "no first line"
read -r -t 10 -u 4 l2 || fail "no line after the too-long one"
expect "a line of --max-line bytes" "$l1" "$a: 0123456789"
expect "the line after a too-long one" "$l2" "$a: ok"
read -r -t 10 -u 3 notice || fail "no notice to the sender of a too-long line"
expect "notice" "$notice" "* your line was longer than 10 bytes and was dropped"
stop_server INT
exec 3<&- 4<&-
echo "chat_server_test: ok ($backend)"
