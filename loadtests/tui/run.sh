#!/usr/bin/env bash
# The dashboard's CPU cost: the same 100,000-phone fleet run twice back to back against the
# same three reference clusters, headless and under `--tui` (in a detached tmux pane, 120x40,
# switching screens), and the fleet process's user+system CPU of each from /usr/bin/time.
# The difference is what the dashboard costs (its redraws, the cluster poller, the
# snapshots' rendering). Needs a release build and tmux.
#
#   cargo build --release -p emroam && loadtests/tui/run.sh [SECONDS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-60}
RATE=${2:-100}
BIN=${EMROAM_BIN:-$PWD/target/release/emroam} # loadtests/run-all sets it
WORK=$(mktemp -d /tmp/emroam-tui-bench.XXXXXX)
trap 'tmux kill-session -t emroam-tui-bench 2>/dev/null || true; kill "$SERVER" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

# 3 clusters x 33,334 users and phones (100,002 phones), on ports away from a lab's.
sed -e 's/^count = 10000$/count = 33334/' \
    -e 's/^address = "\(127.0.0.[0-9]\)"$/address = "\1"\nports = { http = 18080, config = 16970 }/' \
    profiles/topologies/load-3x10k.toml > "$WORK/load-100k.toml"
cat > "$WORK/bench.toml" <<P
name = "tui-bench"
topology = "load-100k.toml"
request_timeout = "10s"
drain = "5s"
seed = 3
[mix]
uid = 60
dn = 30
sp = 10
[[phase]]
name = "steady"
duration = "${SECS}s"
login_rate = ${RATE}.0
logout_rate = ${RATE}.0
P

"$BIN" server --topology "$WORK/load-100k.toml" --in-memory 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 1 120); do
  curl -sf http://127.0.0.3:18080/metrics.json >/dev/null 2>&1 && break
  sleep 1
done

cpu() { awk '{printf "%.2f", $1 + $2}' "$1"; }

echo "headless: $SECS s at $RATE logins/s + $RATE logouts/s, 100,002 phones"
/usr/bin/time -o "$WORK/headless.time" -f '%U %S %e %M' \
  "$BIN" fleet "$WORK/bench.toml" >"$WORK/headless.out" 2>"$WORK/headless.err" || true

echo "dashboard: the same run under --tui"
tmux new-session -d -s emroam-tui-bench -x 120 -y 40 \
  "EMROAM_LOG=$WORK/tui.log /usr/bin/time -o $WORK/tui.time -f '%U %S %e %M' $BIN fleet $WORK/bench.toml --tui 2>$WORK/tui.err; echo BENCH-DONE; sleep 60"
# Look at the screens as a QA engineer would, then quit when the run has finished.
n=0
while tmux has-session -t emroam-tui-bench 2>/dev/null &&
      ! tmux capture-pane -p -t emroam-tui-bench | grep -q 'FINISHED'; do
  sleep 1
  n=$((n + 1))
  tmux send-keys -t emroam-tui-bench "$(( (n / 10) % 5 + 1 ))"
  [ "$n" -gt $((SECS + 600)) ] && break
done
tmux capture-pane -p -t emroam-tui-bench > "$WORK/tui.screen"
tmux send-keys -t emroam-tui-bench q
while tmux has-session -t emroam-tui-bench 2>/dev/null &&
      ! tmux capture-pane -p -t emroam-tui-bench | grep -q 'BENCH-DONE'; do sleep 0.5; done
tmux capture-pane -p -S -60 -t emroam-tui-bench > "$WORK/tui.out" || true

H=$(cpu "$WORK/headless.time"); T=$(cpu "$WORK/tui.time")
HW=$(awk '{print $3}' "$WORK/headless.time"); TW=$(awk '{print $3}' "$WORK/tui.time")
echo "headless : CPU ${H}s in ${HW}s wall, max RSS $(awk '{print $4}' "$WORK/headless.time") KB"
echo "dashboard: CPU ${T}s in ${TW}s wall, max RSS $(awk '{print $4}' "$WORK/tui.time") KB"
awk -v h="$H" -v t="$T" -v w="$TW" 'BEGIN { printf "dashboard cost: %.2f s CPU = %.2f %% of one core over the run\n", t - h, 100 * (t - h) / w }'
grep -h 'logins' "$WORK/headless.out" | head -1 || true
grep -h 'logins' "$WORK/tui.out" | head -1 || true
echo "files in $WORK"
