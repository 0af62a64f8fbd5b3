# bench/lib.sh - what the Python-driven bench scripts share (identity, workflow, soak): a Release build
# in build-bench, the benchmarks' private MariaDB under .run/bench and the development CA, and the
# launch of a driver (tests/integration/harness.py) against those binaries. Source it from a run.sh:
# it changes to the repository root.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="$root/build-bench"
export MOTCUA_RUN="$root/.run/bench"

# bench_prepare target...: build the targets (Release, no sanitizers), start the MariaDB, make the CA,
# and print the build line.
bench_prepare() {
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMOTCUA_SANITIZE=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" --target "$@" >/dev/null
    db/mariadb.sh start >/dev/null
    certs/mkdev-ca.sh "$MOTCUA_RUN/certs" >/dev/null
    echo "== build: Release, $(git rev-parse --short HEAD 2>/dev/null || echo unknown); machine: $(nproc) cores, $(uname -r)"
}

# bench_drive driver.py [args...]: run a driver against the Release motcuad, motcua-admin and popdb-sim.
bench_drive() {
    MOTCUAD="$build/motcuad" MOTCUA_ADMIN="$build/motcua-admin" POPDB_SIM="$build/adapters/popdb-sim" \
        MOTCUA_SRC="$root" python3 "$@"
}
