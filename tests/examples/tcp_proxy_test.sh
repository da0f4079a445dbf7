#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tcp_proxy as a user runs it, in front of echo_server: 100 connections x 1 MiB through it with
# every byte checked (echo_client); a client's half-close reaches the server, whose answer and
# end of stream still come back (a perl client: it sends 1 MiB, shuts down its sending side and
# reads to the end); a connection idle for --idle-timeout 1 is closed (a bounded wait for the
# end of stream, no sleep); usage errors exit 2; SIGTERM and SIGINT exit 0.
#
#   tcp_proxy_test.sh EXAMPLES_BUILD_DIR [BACKEND]   exit 0 when every check passes
set -euo pipefail
dir=$1
backend=${2:-epoll}
tmp=$(mktemp -d)
fail() { echo "tcp_proxy_test: $*" >&2; exit 1; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# Starts a server in the background, reads its first line through a FIFO, sets $port to the
# port it printed and $pid to its process. timeout passes our signals on and is the deadline;
# --foreground keeps it from signalling the process group too (see http_server_test.sh).
start() {
    local name=$1 fd
    shift
    mkfifo "$tmp/$name.out"
    timeout --foreground -s KILL 60 "$@" --port 0 --backend "$backend" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    pids+=("$pid")
    exec {fd}<"$tmp/$name.out"
    local line=""
    read -r -t 10 -u "$fd" line || fail "$name: no 'listening on' line within 10 s: $(cat "$tmp/$name.err")"
    [[ $line =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)\ \((.*)\)$ ]] ||
        fail "$name: unexpected first line '$line': $(cat "$tmp/$name.err")"
    port=${BASH_REMATCH[1]}
    expect "$name backend" "${BASH_REMATCH[2]}" "$backend"
}

# Usage errors: exit 2 with a reason; --help exits 0.
for bad in "" "--to" "--to nowhere" "--to localhost:0" "--to localhost:65536" "--to [::1:80" \
           "--to ::1:80" "--to localhost:80 --idle-timeout -1" "--to localhost:80 --bogus"; do
    rc=0
    # shellcheck disable=SC2086  # split on purpose
    "$dir/tcp_proxy" $bad >/dev/null 2>"$tmp/usage.err" || rc=$?
    expect "exit status of tcp_proxy $bad" "$rc" 2
    grep -q "^usage: tcp_proxy" "$tmp/usage.err" || fail "no usage for '$bad': $(cat "$tmp/usage.err")"
done
rc=0
"$dir/tcp_proxy" --to "$(printf 'x%.0s' {1..64}).invalid:80" >/dev/null 2>"$tmp/usage.err" || rc=$?
expect "exit status for a --to name that does not resolve" "$rc" 2
grep -q "does not resolve" "$tmp/usage.err" || fail "unexpected message '$(cat "$tmp/usage.err")'"
"$dir/tcp_proxy" --help | grep -q -- "--idle-timeout" || fail "--help does not describe --idle-timeout"

start echo "$dir/echo_server"
echo_port=$port echo_pid=$pid
start proxy "$dir/tcp_proxy" --to "localhost:$echo_port"
proxy_port=$port proxy_pid=$pid
start idle_proxy "$dir/tcp_proxy" --to "127.0.0.1:$echo_port" --idle-timeout 1
idle_port=$port idle_pid=$pid

# 100 connections x 16 messages x 64 KiB = 1 MiB each, every echoed byte checked.
out=$(timeout 60 "$dir/echo_client" --host 127.0.0.1 --port "$proxy_port" --conns 100 --size 65536 \
      --count 16 --backend "$backend" 2>"$tmp/client.err") ||
    fail "echo_client through tcp_proxy failed: $out $(cat "$tmp/client.err")"
[[ $out =~ conns=100\ messages=1600\ bytes=104857600\ .*\ mismatches=0$ ]] ||
    fail "unexpected echo_client summary '$out'"

# Half-close: the client sends 1 MiB and shuts down its sending side; it sees every byte echoed,
# then the end of stream, only if the proxy passed its half-close on to echo_server (which ends
# the connection at its end of stream) and kept the other direction open meanwhile.
timeout 30 perl -e '
    use strict; use warnings; use IO::Socket::INET; use Socket qw(SHUT_WR);
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0], Proto => "tcp")
        or die "connect: $!\n";
    my $data = join "", map { chr(($_ * 131 + ($_ >> 9)) & 255) } 0 .. (1 << 20) - 1;
    my $pid = fork() // die "fork: $!\n";
    if ($pid == 0) {  # the writer: all of it, then the half-close
        for (my $off = 0; $off < length $data;) {
            my $n = syswrite($s, $data, 65536, $off) // die "write: $!\n";
            $off += $n;
        }
        shutdown($s, SHUT_WR) or die "shutdown: $!\n";
        exit 0;
    }
    my $got = "";
    while (1) {
        my $n = sysread($s, my $buf, 65536) // die "read: $!\n";
        last if $n == 0;
        $got .= $buf;
    }
    waitpid($pid, 0) == $pid && $? == 0 or die "writer failed\n";
    $got eq $data or die "echoed " . length($got) . " bytes, not the 1048576 sent\n";
' "$proxy_port" 2>"$tmp/half.err" || fail "half-close through tcp_proxy: $(cat "$tmp/half.err")"

# Idle timeout: one byte goes through, then nothing; the proxy closes the connection about 1 s
# later. cat returns at the end of stream; timeout bounds the wait.
exec 3<>"/dev/tcp/127.0.0.1/$idle_port"
printf x >&3
IFS= read -r -N1 -t 10 echoed <&3 || fail "no echo through the idle proxy"
expect "echo through the idle proxy" "$echoed" x
started=$(date +%s%N)
timeout 10 cat <&3 >/dev/null || fail "the idle connection was not closed within 10 s"
exec 3<&-
waited_ms=$(( ($(date +%s%N) - started) / 1000000 ))
[ "$waited_ms" -ge 800 ] || fail "the idle connection was closed after $waited_ms ms, before 1 s"

# Signals: SIGTERM and SIGINT end a proxy with status 0, as SIGTERM does echo_server.
for stop in "TERM $proxy_pid" "INT $idle_pid" "TERM $echo_pid"; do
    read -r sig p <<<"$stop"
    kill -"$sig" "$p"
    rc=0
    wait "$p" || rc=$?
    expect "exit status after SIG$sig" "$rc" 0
done
echo "tcp_proxy_test: ok ($backend)"
