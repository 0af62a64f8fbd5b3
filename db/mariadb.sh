#!/usr/bin/env bash
# db/mariadb.sh - a private MariaDB instance for development and tests.
# Data dir, socket, pid and log live under $MOTCUA_RUN (default: <repo>/.run/mariadb); nothing touches
# the system MariaDB. Usage: db/mariadb.sh start|stop|restart|status|sql [args...]|dsn|wipe
# MOTCUA_DB_BUFFER_POOL sizes the InnoDB buffer pool at start (default 256M; give it the working set).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
run="${MOTCUA_RUN:-$root/.run}/mariadb"
sock="$run/mysqld.sock"
pidf="$run/mysqld.pid"
data="$run/data"
log="$run/mysqld.log"
db_name="${MOTCUA_DB_NAME:-motcua}"
db_user="${MOTCUA_DB_USER:-motcua}"
db_pass="${MOTCUA_DB_PASSWORD:-motcua-dev}"

bin() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || return 1; }
mysqld_bin=$(bin mariadbd || bin mysqld) || { echo "mariadb.sh: mariadbd not found (apt-get install mariadb-server)" >&2; exit 1; }
client() { "$(bin mariadb || bin mysql)" --no-defaults --protocol=socket --socket="$sock" -uroot "$@"; }

running() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }

start() {
    mkdir -p "$run"
    if running; then echo "mariadb: already running (socket $sock)"; return 0; fi
    if [ ! -d "$data/mysql" ]; then
        echo "mariadb: initialising $data"
        "$(bin mariadb-install-db || bin mysql_install_db)" --no-defaults --datadir="$data" \
            --auth-root-authentication-method=normal --skip-test-db --user="$(id -un)" >"$run/install.log" 2>&1 \
            || { cat "$run/install.log" >&2; exit 1; }
    fi
    # Durable settings on purpose: innodb_flush_log_at_trx_commit=1 is what "2xx means committed" needs.
    "$mysqld_bin" --no-defaults --datadir="$data" --socket="$sock" --pid-file="$pidf" \
        --log-error="$log" --skip-networking --user="$(id -un)" \
        --innodb-flush-log-at-trx-commit=1 --innodb-buffer-pool-size="${MOTCUA_DB_BUFFER_POOL:-256M}" \
        --innodb-log-file-size=256M --max-connections=500 --max-allowed-packet=64M --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_unicode_ci --skip-name-resolve >/dev/null 2>&1 &
    for _ in $(seq 1 300); do
        if client -e 'SELECT 1' >/dev/null 2>&1; then break; fi
        sleep 0.1
    done
    client -e 'SELECT 1' >/dev/null 2>&1 || { echo "mariadb: failed to start, see $log" >&2; tail -20 "$log" >&2; exit 1; }
    client <<SQL
CREATE DATABASE IF NOT EXISTS \`$db_name\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$db_user'@'localhost' IDENTIFIED BY '$db_pass';
GRANT ALL ON \`$db_name\`.* TO '$db_user'@'localhost';
GRANT ALL ON \`motcua_test%\`.* TO '$db_user'@'localhost';
SQL
    echo "mariadb: running (socket $sock)"
}

stop() {
    if ! running; then echo "mariadb: not running"; return 0; fi
    local pid; pid=$(cat "$pidf")
    kill "$pid"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    echo "mariadb: stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    status) if running; then echo "running (socket $sock)"; else echo "stopped"; exit 3; fi ;;
    sql) shift; client "$@" ;;
    dsn) echo "mariadb://$db_user:$db_pass@localhost/$db_name?socket=$sock" ;;
    wipe) stop; rm -rf "$data"; echo "mariadb: data removed" ;;
    *) echo "usage: $0 start|stop|restart|status|sql [args]|dsn|wipe" >&2; exit 2 ;;
esac
