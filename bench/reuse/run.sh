#!/usr/bin/env bash
# bench/reuse/run.sh - intake with once-only reuse lookups against a repository of N (default 100,000)
# really signed results: POST /v1/dossiers (marriage registrations, wrk -c64) without reuse (TP3
# uploaded), with reuse and a cold cache (holders spread over all N: every link is a full strict
# re-verification), and with reuse and a warm cache (5,000 holders). Not part of ctest.
# usage: [WARD_KEY=rsa|ec] bench/reuse/run.sh [seconds] [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
secs="${1:-15}"; n="${2:-100000}"; conns=64
build="$root/build-reuse-bench"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target motcuad motcua-admin bench-reuse-seed >/dev/null
export MOTCUA_RUN="$root/.run/bench-reuse"
mkdir -p "$MOTCUA_RUN"
certs/mkdev-ca.sh "$MOTCUA_RUN/certs" >/dev/null
db/mariadb.sh start >/dev/null
db/mariadb.sh sql -e 'DROP DATABASE IF EXISTS motcua_test_bench_reuse; CREATE DATABASE motcua_test_bench_reuse CHARACTER SET utf8mb4;'
export MOTCUA_DB_DSN="mariadb://motcua:motcua-dev@localhost/motcua_test_bench_reuse?socket=$MOTCUA_RUN/mariadb/mysqld.sock"
"$build/motcua-admin" migrate >/dev/null
"$build/motcua-admin" catalog load >/dev/null
KEY=$("$build/motcua-admin" client create --role portal --name bench | sed -n 's/^API key.*: //p')
export KEY
echo "== build: Release, $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(nproc) cores"
# WARD_KEY=rsa (default: the wards' RSA-2048 keys, as deployed by certs/mkdev-ca.sh) or WARD_KEY=ec (ECDSA P-256,
# whose verification costs several times more)
case "${WARD_KEY:-rsa}" in
rsa) wkey=ward-20242; what="RSA-2048" ;;
ec) wkey=ward-20242-ec; what="ECDSA P-256" ;;
*) echo "WARD_KEY must be rsa or ec" >&2; exit 2 ;;
esac
echo "== seeding $n signed results ($what ward key), then the strict verifier on a sample"
"$build/bench/reuse/bench-reuse-seed" "$MOTCUA_DB_DSN" "$MOTCUA_RUN/certs/$wkey.key" \
    "$MOTCUA_RUN/certs/$wkey.crt" "$MOTCUA_RUN/certs/ca.crt" schemas/result.xsd "$n"
python3 - "$MOTCUA_RUN" <<'PY'
import re, sys
run = sys.argv[1]
body = open("tests/samples/1.000894.valid.xml", encoding="utf-8").read()
body = body.replace("048096007788", "@PID@").replace("1996-12-01", "1990-01-01")
open(run + "/reuse.xml", "w", encoding="utf-8").write(body)
open(run + "/noreuse.xml", "w", encoding="utf-8").write(body.replace(
    '<reuse source="result"/>', '<file ref="upl_BENCH" name="xac-nhan.pdf"/>'))
PY
port=18081
MOTCUA_LISTEN_PORT=$port MOTCUA_LOG_LEVEL=warn MOTCUA_RATE_LIMIT_RPS=0 MOTCUA_DB_POOL_SIZE="${POOL:-32}" \
MOTCUA_SIGN_DIR="$MOTCUA_RUN/certs" MOTCUA_TRUST_CA_FILE="$MOTCUA_RUN/certs/ca.crt" \
MOTCUA_CRL_FILE="$MOTCUA_RUN/certs/crl.pem" "$build/motcuad" 2>"$MOTCUA_RUN/motcuad.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
sql() { db/mariadb.sh sql -N -B motcua_test_bench_reuse -e "$1"; }
run() { # label template holders [pace_ms]
    local before after
    before=$(sql "SELECT COUNT(*) FROM dossier_component WHERE code='TP3' AND reused=1")
    out=$(PACE_MS="${4:-0}" TEMPLATE="$MOTCUA_RUN/$2" HOLDERS="$3" wrk -t2 -c$conns -d"${secs}s" --latency \
        -s bench/reuse/post.lua "http://127.0.0.1:$port/v1/dossiers" | tail -1)
    after=$(sql "SELECT COUNT(*) FROM dossier_component WHERE code='TP3' AND reused=1")
    echo "$1: $out linked=$((after - before))"
}
echo "== saturation: $conns connections back to back"
run "without reuse          " noreuse.xml "$n"
run "with reuse, cold cache " reuse.xml "$n"
run "warming the cache      " reuse.xml 5000 >/dev/null
run "with reuse, warm cache " reuse.xml 5000
# the same at about 1,000 dossiers/s offered (each connection pauses ~60 ms between requests): what reuse
# adds to a dossier's own latency when intake is not queueing
echo "== paced: $conns connections, exponential pauses of mean ${PACE:-60} ms"
run "without reuse          " noreuse.xml "$n" "${PACE:-60}"
run "with reuse, cold cache " reuse.xml "$n" "${PACE:-60}"
run "with reuse, warm cache " reuse.xml 5000 "${PACE:-60}"
echo "== results in the repository: $(sql 'SELECT COUNT(*) FROM result')"
