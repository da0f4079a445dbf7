#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tail_follow as a user runs it: started before FILE exists, it prints the lines appended to
# FILE, a line written in two pieces once, reads from the start after a truncation, finishes a
# rotated FILE (mv) and follows the new one; -n N prints the last N lines first; SIGTERM and
# SIGINT exit 0; bad arguments exit 2. Every wait is for the expected output, bounded.
#
#   tail_follow_test.sh EXAMPLES_BUILD_DIR [BACKEND]   exit 0 when every check passes
set -euo pipefail
bin=$1/tail_follow
backend=${2:-epoll}
tmp=$(mktemp -d)
file=$tmp/app.log
fail() { echo "tail_follow_test: $*" >&2; exit 1; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }
cleanup() {
    [ -z "${tf_pid:-}" ] || kill -KILL "$tf_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# The next line tail_follow prints (stdout and stderr, in order), within 10 s.
next_line() {
    local line
    read -r -t 10 -u "${tf[0]}" line || fail "no output within 10 s after: $1"
    expect "$1" "$line" "$2"
}
# Starts tail_follow with ARGS (stderr joined to stdout); timeout is the deadline.
start() {
    coproc tf { exec timeout --foreground -s KILL 60 "$bin" --backend "$backend" "$@" 2>&1; }
    tf_pid=$tf_PID
}
stop_with() {
    kill -"$1" "$tf_pid"
    local rc=0
    wait "$tf_pid" || rc=$?
    tf_pid=""
    expect "exit status after SIG$1" "$rc" 0
}

# Arguments.
"$bin" --help | grep -q '^usage: tail_follow' || fail "--help prints no usage"
for bad in "" "--bogus $file" "-n x $file" "$file $file"; do
    rc=0
    # shellcheck disable=SC2086 # split on purpose: each case is a list of arguments
    "$bin" $bad >/dev/null 2>&1 || rc=$?
    expect "exit status for arguments '$bad'" "$rc" 2
done

# FILE does not exist yet: it is waited for, then read from its start.
start "$file"
next_line "start" "tail_follow: following $file ($backend)"
echo one >"$file"
next_line "FILE created" "one"
echo two >>"$file"
next_line "append" "two"
printf 'half' >>"$file"
printf ' and half\n' >>"$file"
next_line "a line written in two pieces" "half and half"

# Truncation: read again from the start.
: >"$file"
echo three >>"$file"
next_line "truncation" "tail_follow: $file: file truncated"
next_line "after truncation" "three"

# Rotation: the old file's last lines, then the new file from its start.
echo four >>"$file"
mv "$file" "$file.1"
echo five >>"$file.1"
echo six >"$file"
next_line "before rotation" "four"
next_line "rotated file's last line" "five"
next_line "the new file" "six"
echo seven >>"$file"
next_line "append to the new file" "seven"
stop_with TERM

# -n 2: the last two lines first, then what is appended; SIGINT ends it.
printf 'a\nb\nc\n' >"$file"
start -n 2 "$file"
next_line "-n 2, first" "b"
next_line "-n 2, second" "c"
next_line "start with -n" "tail_follow: following $file ($backend)"
echo d >>"$file"
next_line "append after -n" "d"
stop_with INT
echo "tail_follow_test: ok ($backend)"
