#!/usr/bin/env bash
# scripts/test.sh - README command 2: install deps, build with ASan+UBSan, start a private MariaDB for the
# tests, and run the whole ctest suite (unit, integration against real MariaDB and real simulators).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/deps.sh
build="${MOTCUA_TEST_BUILD:-$root/build-test}"
cmake -S . -B "$build" -DMOTCUA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)"
export MOTCUA_RUN="$build/run"          # the tests' own MariaDB, apart from the quick start's
export MOTCUA_DB_NAME=motcua_test
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
db/mariadb.sh start
trap 'db/mariadb.sh stop >/dev/null 2>&1 || true' EXIT
ctest --test-dir "$build" --output-on-failure --timeout 600 "$@"
