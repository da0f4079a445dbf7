#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The http_server example as a user runs it: it prints where it listens (on select, also how
# many connections it can hold), serves /plaintext, files under --root and POST /echo, and on
# SIGTERM or SIGINT exits 0 at once although a keep-alive connection is open and idle (serve()
# returns only when every connection is closed). With --host localhost it binds where the name
# resolves to.
#
#   http_server_test.sh PATH_TO_HTTP_SERVER [BACKEND]      exit 0 when every check passes
set -euo pipefail
server=$1
backend=${2:-epoll}
tmp=$(mktemp -d)
fail() { echo "http_server_test: $*" >&2; exit 1; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }
cleanup() {
    [ -z "${srv_pid:-}" ] || kill -KILL "$srv_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
command -v curl >/dev/null || fail "curl is not installed (scripts/install-deps.sh installs it)"
mkdir "$tmp/root"
printf '<p>root</p>\n' >"$tmp/root/index.html"

# One server per signal: each must exit 0 soon after it, with an idle keep-alive client open.
for sig in TERM INT; do
    # timeout passes our signal on to the server, and is the deadline: a server still running
    # 20 s after its start is killed (status 137). serve() would wait for idle connections only
    # if stop() failed to close them, and then the idle timeout (60 s) would hold it far longer.
    # --foreground: without it timeout also signals its process group, so the server would get
    # the signal twice, and a second one during shutdown ends it at once (status 128+signal).
    coproc srv { exec timeout --foreground -s KILL 20 "$server" --port 0 --root "$tmp/root" --backend "$backend" 2>"$tmp/err"; }
    srv_pid=$srv_PID
    read -r -t 10 -u "${srv[0]}" line || fail "no 'listening on' line within 10 s: $(cat "$tmp/err")"
    [[ $line =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)\ \((.*)\)$ ]] || fail "unexpected first line '$line'"
    port=${BASH_REMATCH[1]}
    expect "backend" "${BASH_REMATCH[2]}" "$backend"
    if [ "$backend" = select ]; then  # clients past FD_SETSIZE get 503: the cap is announced
        read -r -t 10 -u "${srv[0]}" line || fail "no 'select: at most' line: $(cat "$tmp/err")"
        [[ $line =~ ^select:\ at\ most\ [0-9]+\ connections\ \(FD_SETSIZE\ [0-9]+\)$ ]] || fail "unexpected select line '$line'"
    fi
    url=http://127.0.0.1:$port

    expect "GET /plaintext" "$(curl -sS --noproxy '*' "$url/plaintext")" "Hello, World!"
    expect "GET / (index.html)" "$(curl -sS --noproxy '*' "$url/")" "<p>root</p>"
    expect "POST /echo" "$(curl -sS --noproxy '*' --data-binary 'ping 123' "$url/echo")" "ping 123"
    expect "GET /missing" "$(curl -sS --noproxy '*' -o /dev/null -w '%{http_code}' "$url/missing")" "404"

    # An idle keep-alive client: answered once, then left open.
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n' >&3
    read -r -t 10 status <&3 || fail "no response on the keep-alive connection"
    expect "keep-alive status line" "${status%$'\r'}" "HTTP/1.1 200 OK"

    kill "-$sig" "$srv_pid"
    rc=0
    wait "$srv_pid" || rc=$?
    srv_pid=""
    expect "exit status after SIG$sig (137: killed at the 20 s deadline)" "$rc" 0
    grep -q "shutting down" "$tmp/err" || fail "no shutdown message after SIG$sig: $(cat "$tmp/err")"
    # The idle connection was closed by the server: the rest of the response, then end of stream.
    timeout 5 cat <&3 >/dev/null || fail "the idle connection was not closed"
    exec 3<&-
done
# --threads 2: one server per loop on SO_REUSEPORT listeners; /metrics sums both loops, so it
# counts every request whichever loop answered it (20 connections: the kernel's hash spreads them).
coproc srv { exec timeout --foreground -s KILL 20 "$server" --port 0 --threads 2 --backend "$backend" 2>"$tmp/err"; }
srv_pid=$srv_PID
read -r -t 10 -u "${srv[0]}" line || fail "--threads 2: no 'listening on' line within 10 s: $(cat "$tmp/err")"
[[ $line =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)\ \((.*)\)$ ]] || fail "--threads 2: unexpected first line '$line'"
url=http://127.0.0.1:${BASH_REMATCH[1]}
for _ in $(seq 20); do
    expect "--threads 2: GET /plaintext" "$(curl -sS --noproxy '*' "$url/plaintext")" "Hello, World!"
done
# The /metrics request itself is counted once it has been answered, so it sees the 20 before it.
expect "--threads 2: 2xx in /metrics" \
    "$(curl -sS --noproxy '*' "$url/metrics" | sed -n 's/^corio_http_requests_total{code="2xx"} //p')" 20
kill -TERM "$srv_pid"
rc=0
wait "$srv_pid" || rc=$?
srv_pid=""
expect "--threads 2: exit status after SIGTERM" "$rc" 0
# --host localhost: bound at the first address the name resolves to (127.0.0.1, or ::1 where
# /etc/hosts lists it first), printed as for a numeric --host; curl reaches it by name.
coproc srv { exec timeout --foreground -s KILL 20 "$server" --host localhost --port 0 --backend "$backend" 2>"$tmp/err"; }
srv_pid=$srv_PID
read -r -t 10 -u "${srv[0]}" line || fail "--host localhost: no 'listening on' line within 10 s: $(cat "$tmp/err")"
[[ $line =~ ^listening\ on\ (127\.0\.0\.1|\[::1\]):([0-9]+)\ \((.*)\)$ ]] || fail "--host localhost: unexpected first line '$line'"
expect "--host localhost: GET /plaintext" "$(curl -sS --noproxy '*' "http://localhost:${BASH_REMATCH[2]}/plaintext")" "Hello, World!"
kill -TERM "$srv_pid"
rc=0
wait "$srv_pid" || rc=$?
srv_pid=""
expect "--host localhost: exit status after SIGTERM" "$rc" 0
echo "http_server_test: ok ($backend)"
