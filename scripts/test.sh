#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds corio with one CMake preset and runs its whole test suite on every backend.
#
#   scripts/test.sh [PRESET]     PRESET: release (default), debug, asan, tsan, clang; JOBS=2 by default
#
# The clang preset (clang-16 with libstdc++) makes install-deps.sh install clang-16 as well.
#
# On Linux the kqueue backend is built and tested too when the sources of libkqueue, a kqueue
# emulation, sit in ../shared/third_party (as on corio's CI): it is built outside the tree into
# build/libkqueue, once (build-libkqueue.sh does nothing when it is already there), and every
# preset links it. CORIO_KQUEUE=off leaves kqueue out.
# Exit status: ctest's (non-zero when any test fails or none ran), or the failing step's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
(($# <= 1)) || { echo "usage: scripts/test.sh [PRESET]" >&2; exit 2; }
preset=${1:-release}

deps=()
[ "$preset" != clang ] || deps=(--with-clang)
bash scripts/install-deps.sh "${deps[@]}"
extra=()
kqueue_src=../shared/third_party
if [ "$(uname -s)" = Linux ]; then
    if [ "${CORIO_KQUEUE:-on}" != off ] && [ -f "$kqueue_src/build-libkqueue.sh" ]; then
        bash "$kqueue_src/build-libkqueue.sh" "$PWD/build/libkqueue"
        extra=(-DCORIO_WITH_KQUEUE=ON "-DCORIO_KQUEUE_ROOT=$PWD/build/libkqueue")
    else
        extra=(-DCORIO_WITH_KQUEUE=OFF)  # also when an earlier run left it ON in the cache
    fi
fi
cmake --preset "$preset" "${extra[@]}"
cmake --build --preset "$preset" -j "${JOBS:-2}"
ctest --preset "$preset"
