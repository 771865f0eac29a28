#!/usr/bin/env bash
# The seed's roaming scenario (reference/em-roaming-feature-guide.zh.txt), with real processes
# and the commands a QA engineer would type: Bob (1000001, home cluster1, superuser) is logged
# in at home; cluster1 goes down; Bob logs in on a cluster2 phone; cluster3 learns that 1000001
# is at cluster2; cluster1 comes back and logs Bob out there.
#
#   profiles/scenarios/seed-roaming.sh [path/to/emroam]     (default: target/release/emroam)
#
# Needs the seed topology's addresses free (127.0.0.1-3, ports 8080/6970/5060/7502). Each
# cluster runs as its own `emroam server --cluster` process, as real clusters do. Exits 0 when
# every step behaved as the feature guide says, 1 at the first step that did not.
set -euo pipefail
cd "$(dirname "$0")/../.."
EMROAM=${1:-target/release/emroam}
TOPO=profiles/topologies/seed.toml
DATA=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
start() { # cluster id
  "$EMROAM" server --topology "$TOPO" --cluster "$1" --data-dir "$DATA" >"$DATA/$1.log" 2>&1 &
  pids+=($!)
  eval "pid_$1=$!"
  for _ in $(seq 50); do grep -q "^cluster $1 " "$DATA/$1.log" && return; sleep 0.1; done
  fail "$1 did not start: $(cat "$DATA/$1.log")"
}
locate() { # cluster-number DN -> the cluster holding DN, as that cluster's ILS says
  curl -s "http://127.0.0.$1:8080/admin/clusters/cluster$1/locate/$2"
}
logins() { curl -s "http://127.0.0.$1:8080/admin/clusters/cluster$1/logins"; }
phone() { "$EMROAM" phone "$@" --topology "$TOPO" >"$DATA/phone.log" 2>&1; }

step "start cluster1, cluster2, cluster3 (one process each)"
start cluster1; start cluster2; start cluster3
sleep 2   # ILS links come up, the superuser sync tool copies Bob and Alice everywhere

step "Bob logs in at home (cluster1, SEP000000001001)"
phone login --device SEP000000001001 --id bob || fail "login at cluster1: $(tail -5 "$DATA/phone.log")"
logins 1 | grep -q '"bob"' || fail "cluster1 does not list bob: $(logins 1)"

step "cluster1 goes down (kill -9)"
kill -9 "$pid_cluster1"
sleep 0.5

step "Bob logs in on a cluster2 phone (SEP000000002001) while his home is down"
phone login --device SEP000000002001 --id bob || fail "roaming login at cluster2: $(tail -5 "$DATA/phone.log")"
logins 2 | grep -q '"bob"' || fail "cluster2 does not list bob: $(logins 2)"

step "cluster3 learns that 1000001 is at cluster2"
for _ in $(seq 50); do locate 3 1000001 | grep -q cluster2 && break; sleep 0.1; done
locate 3 1000001 | grep -q cluster2 || fail "cluster3 locates 1000001 at: $(locate 3 1000001)"
echo "cluster3: $(locate 3 1000001)"

step "cluster1 comes back (same data dir) and logs Bob out there"
start cluster1
for _ in $(seq 100); do logins 1 | grep -q '"bob"' || break; sleep 0.1; done
logins 1 | grep -q '"bob"' && fail "cluster1 still lists bob: $(logins 1)"
logins 2 | grep -q '"bob"' || fail "cluster2 lost bob: $(logins 2)"
echo "cluster1 logins: $(logins 1)"
echo "cluster2 logins: $(logins 2)"

step "the seed scenario behaved as the feature guide says"
