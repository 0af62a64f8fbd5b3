#!/usr/bin/env bash
# scripts/deps.sh - install the Debian 12 packages motcua builds, runs and tests with.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libevent-dev libmariadb-dev mariadb-server mariadb-client
      libxml2-dev libxmlsec1-dev xmlsec1 libcurl4-openssl-dev libjansson-dev libcmocka-dev libssl-dev
      libjemalloc-dev openssl python3 curl wrk)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then echo "deps: all packages present"; exit 0; fi
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${missing[*]}"
$sudo apt-get update -qq
# The server package must not start a system MariaDB: we run a private instance (db/mariadb.sh).
echo exit 101 | $sudo tee /usr/sbin/policy-rc.d >/dev/null; $sudo chmod +x /usr/sbin/policy-rc.d
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
$sudo rm -f /usr/sbin/policy-rc.d
echo "deps: done"
