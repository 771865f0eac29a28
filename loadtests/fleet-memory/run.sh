#!/usr/bin/env bash
# Idle memory per emulated phone: the same near-idle fleet (1 login/s for a few seconds, so
# almost every phone just sits in its logged-out state) over 3,000 and over 100,002 phones,
# against reference clusters with the same population; the fleet process's max RSS of each
# from /usr/bin/time. (RSS_large - RSS_small) / (phones_large - phones_small) is what one more
# idle phone costs, everything the fleet keeps per phone included (identity, user, state
# machine, histogram share, shard bookkeeping). Needs a release build.
#
# With `sip` as the second argument the profile has a `[sip]` table: every phone boots (config
# file, REGISTER over its shard's shared UDP socket) before the idle phase and sits registered,
# so the figure includes each phone's SIP user agent and its place in the shard's routing map.
#
#   cargo build --release -p emroam && loadtests/fleet-memory/run.sh [SECONDS] [sip]
#
# EMROAM_BIN=path runs another build (a "before" binary beside an "after" one).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
SIP=${2:-}
BIN=${EMROAM_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/emroam}  # loadtests/run-all sets EMROAM_BIN
WORK=$(mktemp -d /tmp/emroam-fleet-mem.XXXXXX)
SERVER=
trap 'kill "$SERVER" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

run() { # per-cluster count -> prints "phones max_rss_kb"
  local n=$1
  sed -e "s/^count = 10000$/count = $n/" \
      -e 's/^address = "\(127.0.0.[0-9]\)"$/address = "\1"\nports = { http = 28080, config = 26970, sip = 25060, ils = 27502 }/' \
      profiles/topologies/load-3x10k.toml > "$WORK/topo-$n.toml"
  cat > "$WORK/idle-$n.toml" <<P
name = "idle-$n"
topology = "topo-$n.toml"
request_timeout = "10s"
drain = "5s"
seed = 1
[[phase]]
name = "idle"
duration = "${SECS}s"
login_rate = 1.0
logout_rate = 0.0
P
  if [ "$SIP" = sip ]; then printf '[sip]\n' >>"$WORK/idle-$n.toml"; fi
  "$BIN" server --topology "$WORK/topo-$n.toml" --in-memory 2>"$WORK/server-$n.log" >/dev/null &
  SERVER=$!
  for _ in $(seq 1 120); do
    curl -sf http://127.0.0.3:28080/metrics.json >/dev/null 2>&1 && break
    sleep 0.5
  done
  /usr/bin/time -o "$WORK/time-$n" -f '%M' \
    "$BIN" fleet "$WORK/idle-$n.toml" >"$WORK/fleet-$n.out" 2>"$WORK/fleet-$n.err" || true
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  grep -E '^(logins|SIP:)' "$WORK/fleet-$n.out" | sed "s/^/  $((3 * n)) phones: /" >&2 || true
  echo "$((3 * n)) $(tail -1 "$WORK/time-$n")"
}

small=$(run 1000)
large=$(run 33334)
read -r ps rs <<<"$small"
read -r pl rl <<<"$large"
echo "phones $ps: max RSS ${rs} KiB"
echo "phones $pl: max RSS ${rl} KiB"
awk -v ps="$ps" -v rs="$rs" -v pl="$pl" -v rl="$rl" \
  'BEGIN { printf "per idle phone: %.2f KiB ((%d - %d) KiB / (%d - %d) phones)\n", (rl - rs) / (pl - ps), rl, rs, pl, ps }'
