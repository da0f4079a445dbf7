#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the HTTP example (release preset) and serves this repository's docs/ in the foreground.
#
#   scripts/demo.sh [HTTP_SERVER_ARGS...]     PORT=8080 by default; Ctrl-C stops the server
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "${JOBS:-2}" --target http_server echo_server echo_client

port=${PORT:-8080}
cat <<MSG

Starting the corio HTTP server on port $port, serving docs/. In another terminal, try:
    curl http://127.0.0.1:$port/design.md
    curl http://127.0.0.1:$port/plaintext
    curl --data-binary 'hello' http://127.0.0.1:$port/echo
    curl http://127.0.0.1:$port/metrics
The echo server is built too: build/release/examples/echo_server --port 7000
Stop the server with Ctrl-C (it finishes in-flight requests and exits 0).

MSG
exec build/release/examples/http_server --port "$port" --root docs "$@"
