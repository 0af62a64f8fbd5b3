#!/usr/bin/env bash
# bench/reuse/run.sh - intake with once-only reuse lookups against a repository of N (default 100,000)
# really signed results: POST /v1/dossiers (marriage registrations, wrk -c64) without reuse (TP3
# uploaded); with reuse, a fresh motcuad and no verification marks (holders spread over all N: every
# link is a full strict re-verification - results stored before marks existed, or from elsewhere);
# then `motcua-admin result mark` (timed) and with reuse, a fresh motcuad and marked results (as
# issued: every link accepted on its mark); and with reuse and a warm in-memory cache (5,000 holders).
# Not part of ctest.
# usage: [WARD_KEY=rsa|ec] [BUFFER_POOL=1G] bench/reuse/run.sh [seconds] [N]
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
# The repository's N results are ~330 MB of signed XML for N = 100,000; a production MariaDB keeps its
# working set in memory, so this instance gets a buffer pool that holds it (BUFFER_POOL=256M: the
# development default, where cold links read pages from the OS cache)
db/mariadb.sh stop >/dev/null 2>&1 || true
MOTCUA_DB_BUFFER_POOL="${BUFFER_POOL:-1G}" db/mariadb.sh start >/dev/null
echo "== MariaDB buffer pool: $(db/mariadb.sh sql -N -e 'SELECT @@innodb_buffer_pool_size DIV 1048576') MiB"
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
port=18081 pid=
export MOTCUA_SIGN_DIR="$MOTCUA_RUN/certs" MOTCUA_TRUST_CA_FILE="$MOTCUA_RUN/certs/ca.crt" \
    MOTCUA_CRL_FILE="$MOTCUA_RUN/certs/crl.pem" MOTCUA_MARK_KEY_FILE="$MOTCUA_RUN/certs/mark.key"
start() { # a fresh motcuad: its in-memory verification cache is empty
    [ -z "$pid" ] || { kill "$pid"; wait "$pid" 2>/dev/null || true; }
    MOTCUA_LISTEN_PORT=$port MOTCUA_LOG_LEVEL=warn MOTCUA_RATE_LIMIT_RPS=0 MOTCUA_DB_POOL_SIZE="${POOL:-32}" \
        "$build/motcuad" 2>>"$MOTCUA_RUN/motcuad.log" &
    pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
}
trap '[ -z "$pid" ] || kill $pid 2>/dev/null || true' EXIT
sql() { db/mariadb.sh sql -N -B motcua_test_bench_reuse -e "$1"; }
marks() { # how this motcuad re-verified (GET /v1/stats reVerification)
    curl -sf -H "Authorization: Bearer $MKEY" "http://127.0.0.1:$port/v1/stats" |
        python3 -c 'import json,sys; print("  re-verification:", json.load(sys.stdin)["reVerification"])'
}
MKEY=$("$build/motcua-admin" client create --role monitor --name bench-monitor | sed -n 's/^API key.*: //p')
run() { # label template holders [pace_ms]
    local before after
    before=$(sql "SELECT COUNT(*) FROM dossier_component WHERE code='TP3' AND reused=1")
    out=$(PACE_MS="${4:-0}" TEMPLATE="$MOTCUA_RUN/$2" HOLDERS="$3" wrk -t2 -c$conns -d"${secs}s" --latency \
        -s bench/reuse/post.lua "http://127.0.0.1:$port/v1/dossiers" | tail -1)
    after=$(sql "SELECT COUNT(*) FROM dossier_component WHERE code='TP3' AND reused=1")
    echo "$1: $out linked=$((after - before))"
}
remark() {
    local t0 t1
    t0=$(date +%s.%N)
    out=$("$build/motcua-admin" result mark 2>/dev/null)
    t1=$(date +%s.%N)
    echo "== motcua-admin result mark: $out in $(python3 -c "print(round($t1 - $t0, 1))") s"
}
echo "== saturation: $conns connections back to back"
start
run "without reuse                    " noreuse.xml "$n"
run "reuse, cold, no marks (full)     " reuse.xml "$n"
marks
remark
start
run "reuse, cold, marked (restarted)  " reuse.xml "$n"
marks
run "warming the cache                " reuse.xml 5000 >/dev/null
run "reuse, warm in-memory cache      " reuse.xml 5000
run "without reuse (again: noise band) " noreuse.xml "$n"
# the same at about 1,000 dossiers/s offered (each connection pauses ~60 ms between requests): what reuse
# adds to a dossier's own latency when intake is not queueing
echo "== paced: $conns connections, exponential pauses of mean ${PACE:-60} ms"
run "without reuse                    " noreuse.xml "$n" "${PACE:-60}"
sql "TRUNCATE result_mark" >/dev/null
start
run "reuse, cold, no marks (full)     " reuse.xml "$n" "${PACE:-60}"
remark >/dev/null
start
run "reuse, cold, marked (restarted)  " reuse.xml "$n" "${PACE:-60}"
run "warming the cache                " reuse.xml 5000 >/dev/null
run "reuse, warm in-memory cache      " reuse.xml 5000 "${PACE:-60}"
echo "== results in the repository: $(sql 'SELECT COUNT(*) FROM result')"
