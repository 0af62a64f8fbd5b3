#!/usr/bin/env bash
# bench/workflow/run.sh - the full path for N dossiers: submit -> identity verified -> receive ->
# approve (signed) -> return_result, with several concurrent officials; and, in the same run, the
# signing ceiling (bench/sign's in-process RSA-2048 rate). Not part of ctest.
# usage: bench/workflow/run.sh [dossiers] [officials]
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_prepare motcuad motcua-admin popdb-sim sign-bench bench-officials
ceiling=$("$build/bench/sign/sign-bench" "$MOTCUA_RUN/certs" 2 | awk '/sign RSA-2048, all cores/ {print $5}')
echo "== signing ceiling (in-process RSA-2048, all cores): $ceiling/s"
export SIGN_CEILING="$ceiling"
bench_drive bench/workflow/drive.py "${1:-600}" "${2:-8}"
