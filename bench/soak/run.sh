#!/usr/bin/env bash
# bench/soak/run.sh - chaos soak (not part of ctest): two motcuad processes on one MariaDB, mixed
# traffic, SIGKILLs of motcuad and of MariaDB and clean MariaDB stops every few seconds; then the
# "2xx means committed" invariants (bench/soak/soak.py). Exit 1 on any violation.
# usage: bench/soak/run.sh [seconds] [chaos-interval-seconds]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
build="$root/build-bench"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMOTCUA_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target motcuad motcua-admin popdb-sim >/dev/null
export MOTCUA_RUN="$root/.run/bench"
db/mariadb.sh start >/dev/null
certs/mkdev-ca.sh "$MOTCUA_RUN/certs" >/dev/null
echo "== build: Release, $(git rev-parse --short HEAD 2>/dev/null || echo unknown); machine: $(nproc) cores, $(uname -r)"
MOTCUAD="$build/motcuad" MOTCUA_ADMIN="$build/motcua-admin" POPDB_SIM="$build/adapters/popdb-sim" MOTCUA_SRC="$root" \
    python3 bench/soak/soak.py "${1:-90}" "${2:-6}"
