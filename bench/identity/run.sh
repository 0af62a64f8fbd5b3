#!/usr/bin/env bash
# bench/identity/run.sh - identity-check throughput against the population-database simulator (real TLS)
# at 0 ms, 50 ms and 2 s remote latency. Not part of ctest. usage: bench/identity/run.sh [dossiers]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
build="$root/build-bench"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMOTCUA_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target motcuad motcua-admin popdb-sim >/dev/null
export MOTCUA_RUN="$root/.run/bench"
db/mariadb.sh start >/dev/null
echo "== build: Release, $(git rev-parse --short HEAD 2>/dev/null || echo unknown); machine: $(nproc) cores, $(uname -r)"
MOTCUAD="$build/motcuad" MOTCUA_ADMIN="$build/motcua-admin" POPDB_SIM="$build/adapters/popdb-sim" MOTCUA_SRC="$root" \
    python3 bench/identity/drive.py "${1:-2000}"
