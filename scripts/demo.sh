#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the echo example (release preset) and runs the echo server in the foreground.
#
#   scripts/demo.sh [ECHO_SERVER_ARGS...]     PORT=7000 by default; Ctrl-C stops the server
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "${JOBS:-2}" --target echo_server echo_client

port=${PORT:-7000}
cat <<MSG

Starting the corio echo server on port $port. In another terminal, try:
    build/release/examples/echo_client --host 127.0.0.1 --port $port --count 10
Stop the server with Ctrl-C.

MSG
exec build/release/examples/echo_server --port "$port" "$@"
