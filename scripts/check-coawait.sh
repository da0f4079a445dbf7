#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Refuses the co_await forms g++ 12 miscompiles: inside ?: (either arm), on the right of && or
# ||, and inside a Catch2 CHECK/REQUIRE. There it destroys temporaries of the awaited expression
# that were never built, or twice: double frees and a corrupted frame allocator, seen in corio's
# HTTP server and its tests. Write `auto x = co_await f();` as a statement of its own instead.
#
#   scripts/check-coawait.sh        exit 0: none found; 1: each offending line is printed
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Code only: the part of each line before a // comment.
found=$(git grep -n -I -E 'co_await' -- '*.cpp' '*.hpp' '*.h' | awk '
    {
        split($0, parts, ":"); where = parts[1] ":" parts[2]
        code = substr($0, length(where) + 2)
        sub(/\/\/.*/, "", code)
        if (code ~ /\?[[:space:]]*co_await/ ||
            (code ~ /[^:]:[[:space:]]*co_await/ && code !~ /^[[:space:]]*(case|default)[^:]*:/) ||
            code ~ /(&&|\|\|)[[:space:]]*co_await/ ||
            code ~ /(CHECK|REQUIRE)[A-Z_]*\(.*co_await/)
            print where ": " code
    }')
if [ -n "$found" ]; then
    echo "check-coawait: co_await where g++ 12 mishandles temporaries (make it a statement of its own):" >&2
    echo "$found" >&2
    exit 1
fi
echo "check-coawait: no co_await inside ?:, after && or ||, or inside CHECK/REQUIRE"
