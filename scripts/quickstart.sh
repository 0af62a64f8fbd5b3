#!/usr/bin/env bash
# scripts/quickstart.sh - README command 1: install deps, build, start a private MariaDB, migrate, load the
# catalog, make the development CA, create demo API keys, start the simulators, and run motcuad in the
# foreground. Safe to run again: the data dir, keys and CA are reused.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/deps.sh
build="$root/build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOTCUA_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"
run="${MOTCUA_RUN:-$root/.run}"
mkdir -p "$run"
db/mariadb.sh start
export MOTCUA_DB_DSN="$(db/mariadb.sh dsn)"
admin="$build/motcua-admin"
"$admin" migrate
"$admin" catalog load
if [ -x certs/mkdev-ca.sh ]; then certs/mkdev-ca.sh "$run/certs" >/dev/null; echo "dev CA: $run/certs/ca.crt"; fi
# motcuad and motcua-admin load the ward keys and the trust anchors from there (sign_dir & co.)
export MOTCUA_SIGN_DIR="$run/certs" MOTCUA_TRUST_CA_FILE="$run/certs/ca.crt" MOTCUA_CRL_FILE="$run/certs/crl.pem" \
       MOTCUA_MARK_KEY_FILE="$run/certs/mark.key"
# verification marks for results stored before schema 8 or under an older CA/CRL (docs/reuse.md)
"$admin" result mark --missing

# The population-database simulator (real HTTPS, HMAC-signed calls) with 1,200 synthetic Da Nang citizens.
mkdir -p "$run/popdb"
[ -s "$run/popdb/citizens.json" ] || python3 adapters/gen_citizens.py --seed 48 --count 1200 --out "$run/popdb/citizens.json"
[ -s "$run/popdb/secret" ] || (umask 077; openssl rand -hex 24 >"$run/popdb/secret")
sim_port="${MOTCUA_POPDB_SIM_PORT:-8443}"
"$build/adapters/popdb-sim" --port "$sim_port" --data "$run/popdb/citizens.json" --client-id motcua-demo \
    --secret "$(cat "$run/popdb/secret")" --cert "$run/certs/localhost.crt" --key "$run/certs/localhost.key" \
    >"$run/popdb/sim.log" 2>&1 &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true' EXIT
export MOTCUA_POPDB_URL="https://localhost:$sim_port/v1" MOTCUA_POPDB_CLIENT_ID=motcua-demo \
       MOTCUA_POPDB_SECRET="$(cat "$run/popdb/secret")" MOTCUA_POPDB_CA_FILE="$run/certs/ca.crt"
mkdir -p "$run/demo"
demo_name=$(python3 scripts/demo_dossier.py "$run/popdb/citizens.json" "$run/demo/verified.xml")

# Demo keys: created once; the keys are kept in a 0600 file for this development instance only
# (the database holds only their hashes).
keys="$run/demo-keys.env"
if [ ! -s "$keys" ]; then
    umask 077
    : >"$keys"
    mk() { "$admin" client create --role "$1" ${2:+--ward "$2"} --name "demo-$1${2:+-$2}" | sed -n 's/^API key.*: //p'; }
    echo "PORTAL_KEY=$(mk portal)" >>"$keys"
    echo "NATIONAL_KEY=$(mk national)" >>"$keys"
    echo "OFFICIAL_KEY=$(mk official 20242)" >>"$keys"
    echo "MONITOR_KEY=$(mk monitor)" >>"$keys"
fi
# shellcheck disable=SC1090
. "$keys"
port="${MOTCUA_LISTEN_PORT:-8080}"
base="http://127.0.0.1:$port"
cat <<EOM

motcua is starting at $base
  portal key:   $PORTAL_KEY
  national key: $NATIONAL_KEY
  official key: $OFFICIAL_KEY   (ward 20242 Hải Châu)
  monitor key:  $MONITOR_KEY

Submit a sample birth-registration dossier:
  curl -si -X POST $base/v1/dossiers -H "Authorization: Bearer $PORTAL_KEY" \\
       -H 'Content-Type: application/xml' -H "Idempotency-Key: demo-\$(date +%s)" \\
       --data-binary @$root/tests/samples/1.001193.valid.xml
A dossier whose applicant ($demo_name) is in the simulated population database: its identity is
checked right after the 201 (state identity_verified in GET; the sample above is not in it: mismatch):
  curl -si -X POST $base/v1/dossiers -H "Authorization: Bearer $PORTAL_KEY" \\
       -H 'Content-Type: application/xml' --data-binary @$run/demo/verified.xml
Then read it back (use the Location header):
  curl -s $base/v1/dossiers/<code> -H "Authorization: Bearer $PORTAL_KEY"
Issue its signed result (demo; the workflow's approval does this later), fetch and verify it:
  $admin result issue --dossier <code>
  curl -s $base/v1/results/KQ-<code> -H "Authorization: Bearer $PORTAL_KEY" > result.xml
  curl -s -X POST $base/v1/verify -H 'Content-Type: application/xml' --data-binary @result.xml
Health: curl -s $base/healthz ; readiness: curl -s $base/readyz
Population-database simulator: https://localhost:$sim_port (log $run/popdb/sim.log).
Ctrl-C stops motcuad gracefully (and the simulator); db/mariadb.sh stop stops the database.

EOM
"$build/motcuad"
