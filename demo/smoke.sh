#!/usr/bin/env bash
# Proves the cluster demo works end to end, as a newcomer would meet it: starts `demo/run.sh --detach` in a
# temporary demo directory on a free port, runs the client session it prints, then moves a 5 KB and a 20 MB file
# through the edge to the cluster (copy --to origin-mycluster, drop, get, fsck, drop --from origin-mycluster) and a
# file to one node (origin-node2), checking every step in the node repositories themselves; checks
# /_annexedge/status, and that `demo/run.sh stop` leaves nothing running. Exits non-zero, with the logs, on any
# failure. Usage: demo/smoke.sh
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/annexedge-smoke.XXXXXX")
demo=$work/demo
export ANNEXEDGE_DEMO_DIR=$demo
# The printed session starts with `cd "$(mktemp -d)"`: keep its clone inside the work directory.
export TMPDIR=$work/tmp
mkdir -p "$TMPDIR"
nodes=(node1 node2 node3)
cluster=mycluster

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
while :; do
  PORT=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
  port_in_use "$PORT" || break
done
export PORT

step() { echo; echo "--- smoke: $*"; }
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

finish() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ]; then
    echo >&2
    echo "smoke test failed (exit $rc); logs follow" >&2
    for log in "$demo"/logs/*.log; do
      [ -e "$log" ] || continue
      echo "===== $log" >&2
      tail -n 200 "$log" >&2
    done
    "$repo/demo/run.sh" stop
  fi
  rm -rf "$work"
  exit $rc
}
trap finish EXIT

# Runs a command, showing its output; fails the smoke test with a message if it fails.
run() {
  local what=$1; shift
  "$@" || fail "$what (exit $?): $*"
}

node_has() { git -C "$demo/$1" annex contentlocation "$2" >/dev/null 2>&1; }
# The file holding a key's content in a node repository (contentlocation answers relative to the repository).
node_object() {
  local path
  path=$(git -C "$demo/$1" annex contentlocation "$2")
  case "$path" in /*) echo "$path" ;; *) echo "$demo/$1/$path" ;; esac
}
here_has() { git annex contentlocation "$1" >/dev/null 2>&1; }
# The nodes holding a key, by looking in each node repository (not by asking the network): "node1 node3".
holders() {
  local key=$1 node out=()
  for node in "${nodes[@]}"; do
    node_has "$node" "$key" && out+=("$node")
  done
  echo "${out[*]}"
}
edge_log_count() { grep -cE "$1" "$demo/logs/edge.log" || true; }
# Waits (up to 10 s) until the edge's request log has more than $2 lines matching $1: the log line of a request is
# written when its answer is complete, which can be just after the client has moved on.
edge_logged_more() {
  local pattern=$1 before=$2
  for _ in $(seq 50); do
    [ "$(edge_log_count "$pattern")" -gt "$before" ] && return 0
    sleep 0.2
  done
  return 1
}

step "demo/run.sh --detach (ANNEXEDGE_DEMO_DIR=$demo PORT=$PORT)"
run "demo/run.sh --detach" "$repo/demo/run.sh" --detach | tee "$work/run.out"
annex_url="annex+http://127.0.0.1:$PORT/git-annex/"
grep -qF "annexUrl:           $annex_url" "$work/run.out" || fail "run.sh did not print the annexUrl $annex_url"
ok "edge answers and printed $annex_url"

declare -A uuid=()
for node in "${nodes[@]}"; do
  uuid[$node]=$(git -C "$demo/$node" config annex.uuid)
done
gateway_uuid=$(git -C "$demo/gateway" config annex.uuid)
cluster_log=$(git -C "$demo/gateway" show git-annex:cluster.log) || fail "the gateway repository has no cluster.log"
cluster_uuid=$(awk 'NR == 1 { print $2 }' <<<"$cluster_log")
[[ $cluster_uuid =~ ^ac[0-9a-f]{6}-[0-9a-f]{4}-8 ]] || fail "cluster.log names no cluster UUID: $cluster_log"
for node in "${nodes[@]}"; do
  grep -qF "${uuid[$node]}" <<<"$cluster_log" || fail "cluster.log does not list $node: $cluster_log"
done
config=$(cat "$demo/annexedge.json")
grep -qF "\"Uuid\": \"$gateway_uuid\"" <<<"$config" || fail "the edge's Uuid is not the gateway's annex.uuid $gateway_uuid"
grep -qF "\"Uuid\": \"$cluster_uuid\"" <<<"$config" || fail "the edge's config does not serve the cluster $cluster_uuid"
ok "gateway $gateway_uuid, cluster $cluster_uuid of node1 node2 node3, edge configured for both"

step "GET /_annexedge/status"
status=$(curl -fsS "http://127.0.0.1:$PORT/_annexedge/status") || fail "GET /_annexedge/status"
available=$(grep -o '"available":true' <<<"$status" | wc -l)
[ "$available" -eq 4 ] || fail "expected 4 available backends (node1 x2, node2, node3), status says: $status"
for node in "${nodes[@]}"; do
  grep -qF "\"uuid\":\"${uuid[$node]}\"" <<<"$status" || fail "status does not list $node: $status"
done
ok "status lists node1 (2 replicas), node2 and node3, all 4 backends available"

step "the printed client session ($demo/session.sh)"
sed 's/^/    /' "$demo/session.sh"
puts=$(edge_log_count "POST /git-annex/$cluster_uuid/v[0-9]+/put 200")
run "printed session" bash -euo pipefail "$demo/session.sh"
clone=$(ls -d "$TMPDIR"/*/myclone) || fail "the session made no clone"
cd "$clone"
key=$(git annex lookupkey hello.txt) || fail "hello.txt is not annexed in $clone"
here_has "$key" || fail "after the session, hello.txt's content is not in the clone (get failed)"
[ -z "$(holders "$key")" ] || fail "after the session, $(holders "$key") still hold $key (drop --from failed)"
edge_logged_more "POST /git-annex/$cluster_uuid/v[0-9]+/put 200" "$puts" || fail "no put reached the cluster through the edge"
[ "$(edge_log_count "GET /git-annex/$cluster_uuid/v[0-9]+/key/$key 200")" -ge 1 ] || fail "the get did not go through the edge"
[ "$(edge_log_count "POST /git-annex/$cluster_uuid/v[0-9]+/remove 200")" -ge 1 ] || fail "drop --from origin-$cluster did not go through the edge"
[ "$(edge_log_count "POST /git-annex/${uuid[node2]}/v[0-9]+/put 200")" -ge 1 ] || fail "copy --to origin-node2 did not reach node2 through the edge"
ok "session: uploaded to the cluster, dropped, got back, removed from every node, then node2 alone, all through the edge"

# Adds a file of the given size to the clone and prints its key; its sha256 is in $sum.
new_file() {
  local file=$1 size=$2
  head -c "$size" /dev/urandom >"$file"
  sum=$(sha256sum <"$file")
  run "git annex add" git annex add -q "$file"
  run "git commit" git commit -q -m "add $file"
}

# Moves one file through the edge to the cluster and back, checking each step in the node repositories.
cluster_round_trip() {
  local file=$1 size=$2 key node puts gets
  step "$file ($size bytes) to the cluster $cluster"
  new_file "$file" "$size"
  key=$(git annex lookupkey "$file")

  puts=$(edge_log_count "POST /git-annex/$cluster_uuid/v[0-9]+/put 200")
  run "copy --to origin-$cluster" git annex copy --to "origin-$cluster" "$file"
  for node in "${nodes[@]}"; do
    node_has "$node" "$key" || fail "copy --to origin-$cluster: $node does not hold $key (holders: $(holders "$key"))"
    [ "$(sha256sum <"$(node_object "$node" "$key")")" = "$sum" ] \
      || fail "copy --to origin-$cluster: $node's copy of $key differs"
  done
  edge_logged_more "POST /git-annex/$cluster_uuid/v[0-9]+/put 200" "$puts" || fail "copy --to origin-$cluster did not put through the edge"
  ok "copy --to origin-$cluster: node1, node2 and node3 hold the same bytes (one upload)"

  run "whereis" git annex whereis "$file"
  run "drop" git annex drop "$file"
  ! here_has "$key" || fail "drop: the clone still holds $key"
  ok "drop: a node locked its copy through the edge and the clone dropped its own"

  gets=$(edge_log_count "GET /git-annex/$cluster_uuid/v[0-9]+/key/$key 200")
  run "get --from origin-$cluster" git annex get --from "origin-$cluster" "$file"
  [ "$(sha256sum <"$file")" = "$sum" ] || fail "get: content differs from what was uploaded"
  edge_logged_more "GET /git-annex/$cluster_uuid/v[0-9]+/key/$key 200" "$gets" || fail "get did not download from the cluster through the edge"
  ok "get --from origin-$cluster: same bytes back through the edge"

  run "fsck --from origin-$cluster" git annex fsck --from "origin-$cluster" "$file"
  ok "fsck --from origin-$cluster"

  run "drop --from origin-$cluster" git annex drop --from "origin-$cluster" "$file"
  [ -z "$(holders "$key")" ] || fail "drop --from origin-$cluster: $(holders "$key") still hold $key"
  here_has "$key" || fail "drop --from origin-$cluster: the clone lost its copy"
  ok "drop --from origin-$cluster: no node holds it"
}

cluster_round_trip small.bin 5120
cluster_round_trip big.bin $((20 * 1024 * 1024))

step "one.bin (5120 bytes) to a single node (origin-node2)"
new_file one.bin 5120
key=$(git annex lookupkey one.bin)
puts=$(edge_log_count "POST /git-annex/${uuid[node2]}/v[0-9]+/put 200")
run "copy --to origin-node2" git annex copy --to origin-node2 one.bin
[ "$(holders "$key")" = node2 ] || fail "copy --to origin-node2: the holders are '$(holders "$key")', not node2 alone"
edge_logged_more "POST /git-annex/${uuid[node2]}/v[0-9]+/put 200" "$puts" || fail "copy --to origin-node2 did not put through the edge"
run "drop" git annex drop one.bin
run "get --from origin-node2" git annex get --from origin-node2 one.bin
[ "$(sha256sum <one.bin)" = "$sum" ] || fail "get --from origin-node2: content differs"
run "drop --from origin-node2" git annex drop --from origin-node2 one.bin
[ -z "$(holders "$key")" ] || fail "drop --from origin-node2: $(holders "$key") still hold $key"
ok "origin-node2: copy, drop, get and drop --from reached node2 only"

step "demo/run.sh stop"
groups=$(cat "$demo"/run/*.pid)
ports=$(grep -oE '127\.0\.0\.1:[0-9]+' "$demo/annexedge.json" | cut -d: -f2)
run "demo/run.sh stop" "$repo/demo/run.sh" stop
for port in "$PORT" $ports; do
  ! port_in_use "$port" || fail "port $port still listens after stop"
done
for group in $groups; do
  ! kill -0 -- "-$group" 2>/dev/null || fail "process group $group still runs after stop: $(ps -o pid,args -g "$group" || true)"
done
[ -z "$(ls -A "$demo/run")" ] || fail "pid files left after stop: $(ls "$demo/run")"
# Also what no pid file names any more (e.g. a p2phttp start that was retried): every demo process names $demo.
processes=$(ps -eo pid=,args=)
left=$(grep -F -- "$demo/" <<<"$processes" || true)
[ -z "$left" ] || fail "processes of the demo still run after stop:
$left"
ok "the edge and the 4 p2phttp processes are gone; nothing listens on their ports"

step "demo/run.sh --https --detach: a certificate from a local ACME server (Pebble) at start-up"
cd "$work"
run "demo/run.sh --https --detach" "$repo/demo/run.sh" --https --detach | tee "$work/run-https.out"
https_port=$((PORT + 1))
annex_url="annex+https://localhost:$https_port/git-annex/"
grep -qF "annexUrl:           $annex_url" "$work/run-https.out" || fail "run.sh --https did not print the annexUrl $annex_url"
root=$demo/tls/trust/pebble-root.pem
curl -fsS -o /dev/null --cacert "$root" "https://localhost:$https_port/_annexedge/health" \
  || fail "https://localhost:$https_port does not verify with Pebble's root"
! curl -fsS -o /dev/null "https://localhost:$https_port/_annexedge/health" 2>/dev/null \
  || fail "https://localhost:$https_port verifies without Pebble's root: not Pebble's certificate"
ok "the edge serves a certificate issued by Pebble, trusted through $root only"

step "the printed HTTPS client session ($demo/session.sh)"
sed 's/^/    /' "$demo/session.sh"
grep -qF "SYSTEM_CERTIFICATE_PATH=" "$demo/session.sh" || fail "the HTTPS session does not say how git-annex trusts Pebble's root"
puts=$(edge_log_count "POST /git-annex/$cluster_uuid/v[0-9]+/put 200")
rm -rf "${TMPDIR:?}"/*
run "printed HTTPS session" bash -euo pipefail "$demo/session.sh"
clone=$(ls -d "$TMPDIR"/*/myclone) || fail "the HTTPS session made no clone"
key=$(git -C "$clone" annex lookupkey hello.txt) || fail "hello.txt is not annexed in $clone"
[ -z "$(holders "$key")" ] || fail "after the HTTPS session, $(holders "$key") still hold $key"
edge_logged_more "POST /git-annex/$cluster_uuid/v[0-9]+/put 200" "$puts" || fail "no put reached the cluster through the edge over HTTPS"
ok "HTTPS session: uploaded to the cluster, dropped, got back, removed, node2 alone, all over annex+https"

step "demo/run.sh stop (HTTPS)"
groups=$(cat "$demo"/run/*.pid)
run "demo/run.sh stop" "$repo/demo/run.sh" stop
for port in "$PORT" "$https_port" $(grep -oE '127\.0\.0\.1:[0-9]+' "$demo/annexedge.json" "$demo/tls/pebble.json" | cut -d: -f3); do
  ! port_in_use "$port" || fail "port $port still listens after stop"
done
for group in $groups; do
  ! kill -0 -- "-$group" 2>/dev/null || fail "process group $group still runs after stop"
done
processes=$(ps -eo pid=,args=)
left=$(grep -F -- "$demo/" <<<"$processes" || true)
[ -z "$left" ] || fail "processes of the HTTPS demo still run after stop:
$left"
ok "the edge, Pebble and the p2phttp processes are gone"

echo
echo "smoke test passed"
