#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds and runs tests/consumer against an installed corio (static or shared), twice: with
# find_package(corio) and with a plain g++ command line from pkg-config (plus the -Wl,-rpath the
# README gives for shared libraries). Exit status 0 when both run correctly.
#
#   tests/consumer/run.sh PREFIX      (PREFIX as given to `cmake --install --prefix`)
set -euo pipefail

(($# == 1)) || { echo "usage: tests/consumer/run.sh PREFIX" >&2; exit 2; }
[ -d "$1" ] || { echo "consumer: no such install prefix: $1" >&2; exit 2; }
prefix=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/corio-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The libraries' directory under the prefix: lib, lib64 or lib/<multiarch>.
pc=$(find "$prefix" -path '*/pkgconfig/corio.pc' -print -quit)
[ -n "$pc" ] || { echo "consumer: no pkgconfig/corio.pc under $prefix" >&2; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
# A shared corio is found at run time as the README says: CMake puts the prefix's lib directory
# in the consumer's build-tree RPATH; the pkg-config build passes -Wl,-rpath. No LD_LIBRARY_PATH.
unset LD_LIBRARY_PATH
shared=no
! ls "$libdir"/libcorio_runtime.so* >/dev/null 2>&1 || shared=yes
echo "--- consumer: corio in $prefix, shared libraries: $shared"

echo "--- consumer: find_package(corio) with CMAKE_PREFIX_PATH=$prefix"
cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
found=$(sed -n 's/^corio_DIR:PATH=//p' "$work/cmake/CMakeCache.txt")
case $found in
    "$prefix"/*) ;;
    *) echo "consumer: find_package found corio in '$found', not under $prefix" >&2; exit 1 ;;
esac
cmake --build "$work/cmake"
"$work/cmake/consumer"

echo "--- consumer: g++ with pkg-config, PKG_CONFIG_PATH=$libdir/pkgconfig"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
std=$(pkg-config --variable=cxx_std corio)
incdir=$(pkg-config --variable=includedir corio)
read -ra cflags <<<"$(pkg-config --cflags corio)"
read -ra libs <<<"$(pkg-config --libs corio)"
set -x
g++ -std="$std" -O2 "${cflags[@]}" "$here/main.cpp" -o "$work/consumer-pc" "${libs[@]}" \
    -Wl,-rpath,"$(pkg-config --variable=libdir corio)"
{ set +x; } 2>/dev/null
"$work/consumer-pc"
if [ "$shared" = yes ]; then
    # The libraries the program loads are the prefix's, not another corio's.
    ldd "$work/consumer-pc" | grep libcorio_
    for lib in $(ldd "$work/consumer-pc" | awk '/libcorio_/ { print $3 }'); do
        [ "$(dirname "$(realpath "$lib")")" = "$(realpath "$libdir")" ] ||
            { echo "consumer: $lib is not from $libdir" >&2; exit 1; }
    done
fi

# A public header that needs a header left out of the install (or a system header that users do
# not have) fails here rather than in a user's build.
echo "--- consumer: each installed header compiles on its own with the pkg-config flags"
failed=0
while IFS= read -r -d '' h; do
    rel=${h#"$incdir"/}
    printf '#include <%s>\n' "$rel" | g++ -std="$std" -fsyntax-only "${cflags[@]}" -x c++ - ||
        { echo "consumer: <$rel> does not compile on its own" >&2; failed=1; }
done < <(find "$incdir/corio" -name '*.hpp' -print0 | sort -z)
((failed == 0))
echo "--- consumer: both builds ran and every installed header compiles"
