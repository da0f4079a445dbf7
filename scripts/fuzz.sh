#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the fuzz preset (clang-16, libFuzzer, ASan+UBSan) and fuzzes the HTTP request parser,
# starting from a copy of tests/fuzz/corpus/http_parser (the seeds in git are never modified).
#
#   scripts/fuzz.sh       FUZZ_SECONDS=60  BUILD_DIR=build/fuzz  JOBS=2
#
# Prints libFuzzer's final line ("Done N runs in S second(s)") and its final stats. On a crash
# the input is kept in BUILD_DIR/fuzz-artifacts/ and the reproducing command is printed.
# Exit status: 0 when the run ends without a crash, libFuzzer's (non-zero) otherwise, or the
# failing build step's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
(($# == 0)) || { sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
seconds=${FUZZ_SECONDS:-60}
build=${BUILD_DIR:-build/fuzz}

bash scripts/install-deps.sh --with-clang
cmake --preset fuzz -B "$build"
cmake --build "$build" --target http_parser_fuzz -j "${JOBS:-2}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$build/fuzz-artifacts"
cp tests/fuzz/corpus/http_parser/* "$work/corpus/"

status=0
"$build/tests/fuzz/http_parser_fuzz" "$work/corpus" \
    -dict=tests/fuzz/http_parser.dict \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-artifacts/" >"$work/log" 2>&1 || status=$?

if ((status != 0)); then
    tail -n 60 "$work/log" >&2
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/log" | tail -n 1)
    echo "fuzz.sh: http_parser_fuzz failed (exit $status)${crash:+; reproduce with: $build/tests/fuzz/http_parser_fuzz $crash}" >&2
    exit "$status"
fi
grep -E '^Done [0-9]+ runs' "$work/log" || { tail -n 20 "$work/log" >&2; exit 1; }
grep -E '^stat::' "$work/log"
