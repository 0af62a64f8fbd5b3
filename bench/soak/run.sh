#!/usr/bin/env bash
# bench/soak/run.sh - chaos soak (not part of ctest): two motcuad processes on one MariaDB, mixed
# traffic, SIGKILLs of motcuad and of MariaDB and clean MariaDB stops every few seconds; then the
# "2xx means committed" invariants (bench/soak/soak.py). Exit 1 on any violation.
# usage: [SOAK_SELFTEST=1] bench/soak/run.sh [seconds] [chaos-interval-seconds]
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_prepare motcuad motcua-admin popdb-sim
bench_drive bench/soak/soak.py "${1:-90}" "${2:-6}"
