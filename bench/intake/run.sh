#!/usr/bin/env bash
# bench/intake/run.sh - POST /v1/dossiers at 64 connections with wrk, and in the same run the raw
# ceiling: same-size durable single-row inserts into the same MariaDB at the same concurrency, measured
# before and after the intake load (each phase starts once MariaDB has flushed the previous one's dirty
# pages), the ratio taken against the higher of the two.
# Not part of ctest. usage: [KEYS=1] [POOL=n] bench/intake/run.sh [seconds] [connections]
# KEYS=1: every request carries its own Idempotency-Key; POOL: db_pool_size (default: the configured one)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
secs="${1:-15}"; conns="${2:-64}"
build="$root/build-bench"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target motcuad motcua-admin bench-raw-insert >/dev/null
echo "== build: Release, $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
export MOTCUA_RUN="$root/.run/bench"
db/mariadb.sh start >/dev/null
db/mariadb.sh sql -e 'DROP DATABASE IF EXISTS motcua_test_bench; CREATE DATABASE motcua_test_bench CHARACTER SET utf8mb4;'
export MOTCUA_DB_DSN="mariadb://motcua:motcua-dev@localhost/motcua_test_bench?socket=$MOTCUA_RUN/mariadb/mysqld.sock"
"$build/motcua-admin" migrate >/dev/null
"$build/motcua-admin" catalog load >/dev/null
KEY=$("$build/motcua-admin" client create --role portal --name bench | sed -n 's/^API key.*: //p')
export KEY DOSSIER="$root/tests/samples/1.001193.valid.xml"
port=18080
# the configured database workers (db_pool_size, 8 by default) unless POOL says otherwise
pool_env=(); [ -n "${POOL:-}" ] && pool_env=(MOTCUA_DB_POOL_SIZE="$POOL")
env "${pool_env[@]}" MOTCUA_LISTEN_PORT=$port MOTCUA_LOG_LEVEL=warn MOTCUA_RATE_LIMIT_RPS=0 \
    "$build/motcuad" 2>"$MOTCUA_RUN/motcuad-bench.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
bytes=$(stat -c %s "$DOSSIER")
echo "== machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
# CPU used during a phase (utime + stime, in clock ticks) by motcuad and by MariaDB
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
mpid=$(cat "$MOTCUA_RUN/mariadb/mysqld.pid")
# wait (at most 60 s) until MariaDB has written back the previous phase's dirty pages, so that no phase
# pays for another's writes
settle() {
    for _ in $(seq 60); do
        [ "$(db/mariadb.sh sql -N -B -e "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'" | awk '{print $2}')" -lt 200 ] && return
        sleep 1
    done
}
raw_ceiling() { # $1: label; sets raw
    settle
    echo "== raw ceiling ($1): $conns connections, single-row durable inserts of $((bytes + 600)) bytes"
    local d0 d1 out
    d0=$(ticks "$mpid")
    out=$("$build/bench/intake/bench-raw-insert" "$MOTCUA_DB_DSN" "$conns" "$secs" $((bytes + 600)))
    d1=$(ticks "$mpid")
    echo "$out"
    raw=$(sed -n 's/.*raw_commits_per_s=\([0-9]*\).*/\1/p' <<<"$out")
    awk -v d=$((d1 - d0)) -v hz="$(getconf CLK_TCK)" -v r="$raw" -v s="$secs" \
        'BEGIN { printf "cpu_ms_per_raw_insert mariadb=%.3f\n", d * 1000 / hz / (r * s) }'
}
raw_ceiling before
raw_before=$raw
settle
echo "== intake: wrk -c$conns -d${secs}s POST /v1/dossiers (db_pool_size ${POOL:-default}$([ "${KEYS:-}" = 1 ] && echo ", an Idempotency-Key on each"))"
# /healthz is sampled 100 times a second on one more connection during the load: answered by the loop thread, it shows
# whether database work ever stalls the loop.
python3 bench/intake/probe.py "$port" "$secs" 100 >"$MOTCUA_RUN/health.out" &
hpid=$!
# the whole machine's busy and idle ticks (/proc/stat: user nice system irq softirq steal / idle iowait):
# idle while the load runs means the writes wait on each other, not on the CPU
machine() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; }
read -r busy0 idle0 < <(machine)
m0=$(ticks $pid); d0=$(ticks "$mpid")
wrk_out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/intake/post.lua "http://127.0.0.1:$port/v1/dossiers" | tail -1)
m1=$(ticks $pid); d1=$(ticks "$mpid")
read -r busy1 idle1 < <(machine)
wait $hpid
echo "$wrk_out"
awk -v b=$((busy1 - busy0)) -v i=$((idle1 - idle0)) 'BEGIN { printf "machine_busy=%.0f%% idle=%.0f%%\n", 100 * b / (b + i), 100 * i / (b + i) }'
awk -v m=$((m1 - m0)) -v d=$((d1 - d0)) -v hz="$(getconf CLK_TCK)" \
    -v n="$(sed -n 's/.*wrk_requests=\([0-9]*\).*/\1/p' <<<"$wrk_out")" \
    'BEGIN { printf "cpu_ms_per_dossier motcuad=%.3f mariadb=%.3f\n", m * 1000 / hz / n, d * 1000 / hz / n }'
cat "$MOTCUA_RUN/health.out"
raw_ceiling after
[ "$raw_before" -gt "$raw" ] && raw=$raw_before
echo "== for reference, the same with one shared counter row bumped per transaction (what a gapless sequence costs)"
"$build/bench/intake/bench-raw-insert" "$MOTCUA_DB_DSN" "$conns" "$secs" $((bytes + 600)) hot
rps=$(sed -n 's/.*wrk_rps=\([0-9]*\).*/\1/p' <<<"$wrk_out")
awk -v a="$rps" -v b="$raw" 'BEGIN { printf "== ratio intake/raw = %.2f against the higher ceiling, %d/s (target >= 0.50)\n", a / b, b }'
echo "== stored dossiers: $(db/mariadb.sh sql -N -B motcua_test_bench -e 'SELECT COUNT(*) FROM dossier')"
