#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages that corio's build, tests and scripts need, and only those
# that are missing. Prints one line and touches nothing when all are present.
#
#   scripts/install-deps.sh [--with-clang]
#
#   --with-clang   also install clang-16 and its sanitizer/libFuzzer runtimes (the fuzz preset)
#
# Runs apt-get as root, through sudo when not root; `apt-get update` only when something is
# missing. Exit status: 0 when everything is installed, 1 when it cannot be, 2 on bad usage.
set -euo pipefail

# The toolchain and libraries of the release, debug, asan and tsan presets. The C compiler comes
# with g++; the sanitizer runtimes (libasan8, libubsan1, libtsan2) come with gcc-12. cmake pulls
# in procps. make is the presets' generator ("Unix Makefiles", CMake's default). curl, ab
# (apache2-utils) and python3 are the real clients of tests/net/http/interop_test.cpp, which
# fails rather than skips without them.
packages=(g++ make cmake pkg-config libfmt-dev catch2 liburing-dev libbenchmark-dev
    curl apache2-utils python3)

while (($#)); do
    case $1 in
        --with-clang) packages+=(clang-16 libclang-rt-16-dev) ;;
        -h | --help) sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install-deps: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    echo "install-deps: this script needs Debian's dpkg and apt-get (Debian 12 bookworm)" >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages are installed"
    exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "install-deps: must install ${missing[*]}, but this is not root and sudo is missing;" \
            "run it as root or install them yourself" >&2
        exit 1
    }
    as_root=(sudo)
fi
# `env` carries the variable through sudo, whose env_reset would otherwise drop it.
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)

echo "install-deps: installing ${missing[*]}"
"${apt[@]}" update -q
"${apt[@]}" install -y -q --no-install-recommends "${missing[@]}" </dev/null

for p in "${missing[@]}"; do
    installed "$p" || { echo "install-deps: $p is still not installed" >&2; exit 1; }
done
echo "install-deps: done"
