#!/bin/sh
# run.sh - build an optimised (no sanitizer) tree, make the dev CA, run the signing benchmark.
# Usage: bench/sign/run.sh [seconds-per-measurement]   (from anywhere; writes only under build-bench-sign/)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B="$ROOT/build-bench-sign"
cmake -S "$ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Release -DMOTCUA_SANITIZE=OFF >/dev/null
cmake --build "$B" -j"$(nproc)" --target sign-bench >/dev/null
sh "$ROOT/certs/mkdev-ca.sh" "$B/certs" >/dev/null
cd "$ROOT"
echo "# $(uname -srm); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# $(openssl version); xmlsec1 $(xmlsec1 --version | cut -d' ' -f2)"
"$B/bench/sign/sign-bench" "$B/certs" "${1:-3}"
