#!/usr/bin/env bash
# bench/workflow/run.sh - the full path for N dossiers: submit -> identity verified -> receive ->
# approve (signed) -> return_result, with several concurrent officials; and, in the same run, the
# signing ceiling (bench/sign's in-process RSA-2048 rate). Not part of ctest.
# usage: bench/workflow/run.sh [dossiers] [officials]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
build="$root/build-bench"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMOTCUA_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target motcuad motcua-admin popdb-sim sign-bench bench-officials >/dev/null
export MOTCUA_RUN="$root/.run/bench"
db/mariadb.sh start >/dev/null
certs/mkdev-ca.sh "$MOTCUA_RUN/certs" >/dev/null
echo "== build: Release, $(git rev-parse --short HEAD 2>/dev/null || echo unknown); machine: $(nproc) cores, $(uname -r)"
ceiling=$("$build/bench/sign/sign-bench" "$MOTCUA_RUN/certs" 2 | awk '/sign RSA-2048, all cores/ {print $5}')
echo "== signing ceiling (in-process RSA-2048, all cores): $ceiling/s"
MOTCUAD="$build/motcuad" MOTCUA_ADMIN="$build/motcua-admin" POPDB_SIM="$build/adapters/popdb-sim" MOTCUA_SRC="$root" \
    SIGN_CEILING="$ceiling" python3 bench/workflow/drive.py "${1:-600}" "${2:-8}"
