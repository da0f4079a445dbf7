#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds corio with one CMake preset and runs its whole test suite on every backend.
#
#   scripts/test.sh [PRESET]     PRESET: release (default), debug, asan, tsan; JOBS=2 by default
#
# Exit status: ctest's (non-zero when any test fails or none ran), or the failing step's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
(($# <= 1)) || { echo "usage: scripts/test.sh [PRESET]" >&2; exit 2; }
preset=${1:-release}

bash scripts/install-deps.sh
cmake --preset "$preset"
cmake --build --preset "$preset" -j "${JOBS:-2}"
ctest --preset "$preset"
