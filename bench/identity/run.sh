#!/usr/bin/env bash
# bench/identity/run.sh - identity-check throughput against the population-database simulator (real TLS)
# at 0 ms, 50 ms and 2 s remote latency. Not part of ctest. usage: bench/identity/run.sh [dossiers]
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_prepare motcuad motcua-admin popdb-sim
bench_drive bench/identity/drive.py "${1:-2000}"
