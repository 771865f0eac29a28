#!/usr/bin/env bash
# Where the fleet's CPU goes in a login storm: a small storm (R logins/s for S seconds, then
# R logouts/s for S seconds) from `emroam fleet` against three reference clusters
# (load-3x10k.toml scaled to 1,000 users and phones a cluster), the fleet under
# `valgrind --tool=callgrind` (instructions counted, reproducible on a busy machine; the
# clusters run natively). Prints the fleet's report line and callgrind's inclusive
# per-function table. Needs a release build (`cargo build --release -p emroam`).
#
#   loadtests/fleet-cpu/run.sh [R] [S] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
R=${1:-20}
S=${2:-10}
OUT=${3:-$(mktemp -d /tmp/emroam-fleet-cpu.XXXXXX)}
mkdir -p "$OUT"
BIN=${EMROAM_BIN:-$PWD/target/release/emroam} # loadtests/run-all sets it
SERVER=
trap 'kill "$SERVER" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

sed -e "s/^count = 10000$/count = 1000/" \
    -e 's/^address = "\(127.0.0.[0-9]\)"$/address = "\1"\nports = { http = 38080, config = 36970, sip = 35060, ils = 37502 }/' \
    profiles/topologies/load-3x10k.toml > "$OUT/topo.toml"
cat > "$OUT/storm.toml" <<P
name = "cpu-storm"
topology = "topo.toml"
request_timeout = "10s"
drain = "10s"
seed = 7
[mix]
uid = 60
dn = 30
sp = 10
[[phase]]
name = "logins"
duration = "${S}s"
login_rate = $R.0
[[phase]]
name = "logouts"
duration = "${S}s"
logout_rate = $R.0
[population]
devices_per_cluster = 1000
users_per_cluster = 1000
P
"$BIN" server --topology "$OUT/topo.toml" --in-memory 2>"$OUT/server.log" >/dev/null &
SERVER=$!
for _ in $(seq 1 120); do
  curl -sf http://127.0.0.3:38080/metrics.json >/dev/null 2>&1 && break
  sleep 0.5
done
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
  "$BIN" fleet "$OUT/storm.toml" --out "$OUT/report" >"$OUT/fleet.out" 2>"$OUT/fleet.err" || true
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
grep -E "journeys|ok|failed" "$OUT/fleet.out" | head -5 || true
grep "refs" "$OUT/fleet.err" || true
callgrind_annotate --inclusive=yes "$OUT/callgrind.out" | head -80
echo "callgrind data: $OUT/callgrind.out"
