#!/usr/bin/env bash
# Benchmark of a cluster that spans three sites (issue 15), in one run on loopback:
#   - sites A, B and C, each an AnnexEdge (Release, Serilog Warning) with one real `git annex p2phttp --jobs 4` node
#     (a1, b1, c1); one cluster spanning them (each edge's cluster Nodes are its own node), the edges peering with
#     each other (LinkCost 10 on every link);
#   - every link between sites goes through a delaying TCP forwarder (`AnnexEdge.Bench delay`, one listener per
#     direction of each link, DELAY ms one way), as does a client at site A that talks to B's or C's node itself;
#   - with --gateway, git-annex's own gateways on the same topology: a gateway repository per site (initcluster at A,
#     B and C clones of it extended to the cluster with extendcluster, A extended to B and C: a star around A), its
#     node as a local-path remote, served by `git annex p2phttp --jobs 4 --clusterjobs 3`, the other sites' gateways
#     reached through the same forwarders. git-annex has no path via B (no B–C link, and no link costs), so it is
#     measured in the direct state only.
# The client is at site A. Two routing states, measured in turn in every round:
#   direct  A's link to C is cheap (10): A reaches c1 over the A–C link.
#   via B   A's link to C costs 50 (A rewrites its config file), more than A–B + B–C: A reaches c1 through B. The
#           route is checked in A's /_annexedge/routes (with a deadline) before anything is measured.
# Operations:
#   GET of a large key that only c1 has, through A's cluster UUID; against GET from c1 itself over the same
#   forwarders (one link direct, the A–B and B–C forwarders chained via B), and through git-annex's gateway at A.
#   GET of a 4 KiB key that only c1 has, same paths: the median of 20 requests on one keep-alive connection.
#   PUT of a fresh key through A's cluster UUID (stored on a1, b1, c1, checked with checkpresent at every node);
#   against the client PUTting it to the 3 nodes itself at once ("3-way", a1 locally, b1 and c1 over the same
#   forwarders), and through git-annex's gateway at A.
# Paths are measured in turn, each round starting one path further, both states in every round.
#
# usage: bench/multisite.sh [--rounds N] [--get-mib N] [--put-mib N] [--delay-ms MS] [--gateway] [--quick]
#   --quick    smoke run: GET and PUT 64 MiB, 2 rounds
#   --gateway  with git-annex's gateways too. Off by default: with git-annex 10.20250416 the 3 gateways did not
#              answer any cluster request, not even gettimestamp (see bench/README.md, Multi-site), and the run then
#              goes on without them after waiting 60 s for each.
# Prints a markdown report and writes it to bench/results/multisite-latest.md (raw figures in multisite-latest.tsv).
set -euo pipefail

MAX_TIME=${BENCH_MAX_TIME:-300}
ROUNDS=3 GET_MIB=256 PUT_MIB=256 DELAY_MS=5 GATEWAY=0 SMALL_REPEATS=20
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --get-mib) GET_MIB=${2:?}; shift 2 ;;
    --put-mib) PUT_MIB=${2:?}; shift 2 ;;
    --delay-ms) DELAY_MS=${2:?}; shift 2 ;;
    --gateway) GATEWAY=1; shift ;;
    --quick) GET_MIB=64 PUT_MIB=64 ROUNDS=2; shift ;;
    *) sed -n '2,31s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/lib.sh"
bench_init multisite
need git-annex "apt-get install git-annex"
need curl "apt-get install curl"
need dotnet "the .NET 10 SDK"
need python3 "apt-get install python3"
declare -A PORT PID NODE_UUID EDGE_UUID
SITES=(a b c)
# BENCH_KEEP=DIR: a failed run's repositories are copied there, to look into.
on_failure() { if [ -n "${BENCH_KEEP:-}" ]; then rm -rf "$BENCH_KEEP"; cp -a "$WORK" "$BENCH_KEEP" 2>/dev/null || true; log "work directory copied to $BENCH_KEEP"; fi; }
CLUSTER=mycluster

# BENCH_SKIP_BUILD=1: use the AnnexEdge.dll already built (src/AnnexEdge/bin/Release).
[ -n "${BENCH_SKIP_BUILD:-}" ] && EDGE_DLL="$ROOT/src/AnnexEdge/bin/Release/net10.0/AnnexEdge.dll" || build_edge
build_loadgen

# --- the nodes and git-annex's gateways -------------------------------------------------------------------------
log "creating the nodes a1, b1, c1 and a gateway repository per site"
for s in "${SITES[@]}"; do
  git init -q -b main "$WORK/${s}1"
  (cd "$WORK/${s}1" && git annex init -q "${s}1" && git config receive.denyCurrentBranch updateInstead)
  NODE_UUID[$s]=$(git -C "$WORK/${s}1" config annex.uuid)
  EDGE_UUID[$s]=$(python3 -c 'import uuid; print(uuid.uuid4())')
done
git init -q -b main "$WORK/gw-a"
(
  cd "$WORK/gw-a"
  git annex init -q siteA && git config receive.denyCurrentBranch updateInstead && git annex initcluster "$CLUSTER" >/dev/null
  git remote add a1 "$WORK/a1" && git config remote.a1.annex-cluster-node "$CLUSTER" && git fetch -q a1
  git annex updatecluster >/dev/null 2>&1
)
CLUSTER_UUID=$(git -C "$WORK/gw-a" show git-annex:cluster.log | awk '{print $2}' | head -1)
[[ $CLUSTER_UUID == ac* ]] || die "no cluster UUID in site A's gateway repository: '$CLUSTER_UUID'"

# --- ports and the forwarders -----------------------------------------------------------------------------------
for p in edge-a edge-b edge-c gw-a gw-b gw-c a1 b1 c1; do PORT[$p]=$(free_port); done
# A link's forwarders: fwd-X-Y is how site X reaches site Y's edge, gwfwd-X-Y site Y's git-annex gateway.
# The client at A reaches b1 and c1 through node-X forwarders, and c1 via B through node-ab (A–B link) into
# node-bc (B–C link).
FWD_ARGS=()
forward() { # name target-port
  PORT[$1]=$(free_port)
  FWD_ARGS+=("${PORT[$1]}:$2:$DELAY_MS")
}
for x in "${SITES[@]}"; do
  for y in "${SITES[@]}"; do
    [ "$x" != "$y" ] || continue
    forward "fwd-$x-$y" "${PORT[edge-$y]}"
    forward "gwfwd-$x-$y" "${PORT[gw-$y]}"
  done
done
forward node-b "${PORT[b1]}"
forward node-c "${PORT[c1]}"
forward node-bc "${PORT[c1]}"
forward node-ab "${PORT[node-bc]}"
# With no delay: does the forwarder itself limit a GET? (the "forwarder alone" figure of the report)
PORT[node-c0]=$(free_port)
FWD_ARGS+=("${PORT[node-c0]}:${PORT[c1]}:0")
# No spinning thread-pool workers: on a loaded 2-core machine they burn CPU the edges and nodes need.
start "$WORK/forwarder.log" "$WORK" env DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 dotnet "$LOADGEN" delay "${FWD_ARGS[@]}"
PID[forwarder]=${PIDS[-1]}
wait_for "the forwarder" grep -q ready "$WORK/forwarder.log"

for s in "${SITES[@]}"; do
  start "$WORK/${s}1.log" "$WORK/${s}1" git-annex p2phttp --bind 127.0.0.1 --port "${PORT[${s}1]}" --jobs 4 --wideopen
  PID[${s}1]=${PIDS[-1]}
done
node_url() { echo "http://127.0.0.1:${PORT[$1]}/git-annex/${NODE_UUID[$2]}/v4/$3"; } # port-name site endpoint
for s in "${SITES[@]}"; do wait_for "node ${s}1" curl -sf -X POST "$(node_url "${s}1" "$s" "gettimestamp?clientuuid=$CLIENT")"; done

start_gateway() { # port-name site [git -c settings...]
  local name=$1 site=$2; shift 2
  start "$WORK/$name.log" "$WORK/gw-$site" git "$@" annex p2phttp --bind 127.0.0.1 --port "${PORT[$name]}" --jobs 4 \
    --clusterjobs 3 --wideopen
  PID[$name]=${PIDS[-1]}
}
# A gateway asked about the cluster asks the other gateways: wait once all are started. Exit 1 if it does not answer
# within 60 s.
wait_gateway() { # port-name
  local t0=$SECONDS
  while [ $((SECONDS - t0)) -lt 60 ]; do
    # Before extendcluster a gateway does not serve the cluster yet: then any answer will do.
    if [ "$GATEWAYS_EXTENDED" = 1 ]; then
      curl -sf -m 10 -o /dev/null -X POST "http://127.0.0.1:${PORT[$1]}/git-annex/$CLUSTER_UUID/v4/gettimestamp?clientuuid=$CLIENT" && return 0
    else
      curl -s -m 10 -o /dev/null "http://127.0.0.1:${PORT[$1]}/" && return 0
    fi
    sleep 0.2
  done
  return 1
}
GATEWAYS_EXTENDED=0
stop_gateway() { # port-name
  local i
  kill -- "-${PID[$1]}" 2>/dev/null || true
  wait "${PID[$1]}" 2>/dev/null || true
  for i in "${!PIDS[@]}"; do [ "${PIDS[i]}" != "${PID[$1]}" ] || unset 'PIDS[i]'; done
  PIDS=("${PIDS[@]}")
}
if [ "$GATEWAY" = 1 ]; then
  # The full mesh of tips/clusters' "adding additional gateways": each gateway a remote of the others (its git
  # through the path, its annex through the link's forwarder), extended to the cluster. extendcluster asks the other
  # gateway over P2P, so they serve meanwhile; they start again afterwards to see every gateway's nodes.
  log "extending git-annex's cluster to sites B and C (a star around A)"
  gw_remote() { # at-site of-site: gw-of becomes remote siteOF of gw-at, its annex through the link's forwarder
    # git-annex does not connect to a P2P-over-HTTP remote on a loopback address unless allowed.
    git -C "$WORK/gw-$1" config annex.security.allowed-ip-addresses all
    git -C "$WORK/gw-$1" remote add "site${2^^}" "$WORK/gw-$2" 2>/dev/null || true
    git -C "$WORK/gw-$1" config "remote.site${2^^}.annexUrl" "annex+http://127.0.0.1:${PORT[gwfwd-$1-$2]}/git-annex/"
    git -C "$WORK/gw-$1" fetch -q "site${2^^}"
  }
  extend() { # at-site of-site
    (cd "$WORK/gw-$1" && git annex extendcluster "site${2^^}" "$CLUSTER" >>"$WORK/extendcluster.log" 2>&1) \
      || { cat "$WORK/extendcluster.log" >&2; die "extendcluster site${2^^} at gw-$1"; }
  }
  start_gateway gw-a a
  wait_gateway gw-a || die "git-annex's gateway at A did not come up"
  # B and C as docs/multisite.md makes a second gateway: a clone of A's gateway repository, extended to the cluster
  # through A, then its own node.
  for s in b c; do
    git clone -q "$WORK/gw-a" "$WORK/gw-$s"
    (cd "$WORK/gw-$s" && git remote rename origin siteA && git annex init -q "site${s^^}" && git config receive.denyCurrentBranch updateInstead)
    gw_remote "$s" a
    extend "$s" a
    (
      cd "$WORK/gw-$s"
      git remote add "${s}1" "$WORK/${s}1" && git config "remote.${s}1.annex-cluster-node" "$CLUSTER" && git fetch -q "${s}1"
      git annex updatecluster >/dev/null 2>&1
    )
    start_gateway "gw-$s" "$s"
    wait_gateway "gw-$s" || die "git-annex's gateway at ${s^^} did not come up"
  done
  # A star, not a full mesh (which did not answer either), so git-annex has no B–C link and no path via B.
  for y in b c; do
    gw_remote a "$y"
    extend a "$y"
  done
  # Every gateway learns the others' proxy logs (which nodes each proxies).
  for x in "${SITES[@]}"; do (cd "$WORK/gw-$x" && git annex updatecluster >/dev/null 2>&1 && git config annex.jobs 4); done
  for x in "${SITES[@]}"; do (cd "$WORK/gw-$x" && git fetch -q --all && git annex merge -q >/dev/null 2>&1); done
  for s in "${SITES[@]}"; do stop_gateway "gw-$s"; done
  GATEWAYS_EXTENDED=1
fi

# --- the objects -------------------------------------------------------------------------------------------------
# The GET objects are on c1 only, PUT there by the client; git-annex's gateways learn where they are from c1's
# git-annex branch (gw-c fetches c1, the others gw-c), since they pick a node by their location logs.
log "placing a $GET_MIB MiB and a 4 KiB object on c1 only"
place_on_c1() { # file -> prints its key
  local key
  key="SHA256-s$(stat -c %s "$1")--$(sha256sum "$1" | cut -d' ' -f1)"
  [[ $(curl -s -X POST -T "$1" -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    -H "X-git-annex-data-length: $(stat -c %s "$1")" "$(node_url c1 c "put?key=$key&clientuuid=$CLIENT")") == *'"stored":true'* ]] \
    || die "could not PUT $1 to c1"
  echo "$key"
}
head -c "${GET_MIB}M" /dev/urandom >"$WORK/get.bin"
head -c 4096 /dev/urandom >"$WORK/small.bin"
GET_KEY=$(place_on_c1 "$WORK/get.bin")
SMALL_KEY=$(place_on_c1 "$WORK/small.bin")
rm "$WORK/get.bin" "$WORK/small.bin"
if [ "$GATEWAY" = 1 ]; then
  # (c1 keeps its own record in its journal, uncommitted: site C's gateway is told, as its copy --to would have.)
  for key in "$GET_KEY" "$SMALL_KEY"; do git -C "$WORK/gw-c" annex setpresentkey "$key" "${NODE_UUID[c]}" 1; done
  # (setpresentkey leaves its record in the journal; the next git-annex command commits it.)
  for s in c a b; do (cd "$WORK/gw-$s" && git fetch -q --all && git annex merge -q >/dev/null 2>&1); done
  where=$(cd "$WORK/gw-a" && git annex whereis --key "$GET_KEY" 2>&1 || true)
  [[ $where == *c1* ]] || die "site A's gateway repository does not know c1 has the GET object: $where"
fi

if [ "$GATEWAY" = 1 ]; then
  for s in "${SITES[@]}"; do start_gateway "gw-$s" "$s"; done
  silent=()
  for s in "${SITES[@]}"; do wait_gateway "gw-$s" || silent+=("${s^^}"); done
  if [ ${#silent[@]} -gt 0 ]; then
    GATEWAY=0 GATEWAY_NOTE="not measured: git-annex's gateway at ${silent[*]} did not answer a gettimestamp of the cluster within 60 s"
    log "$GATEWAY_NOTE: measuring without git-annex's gateways"
    for s in "${SITES[@]}"; do stop_gateway "gw-$s"; done
  fi
fi
GATEWAY_NOTE=${GATEWAY_NOTE:-}
[ "$GATEWAY" = 1 ] || GATEWAY_NOTE=${GATEWAY_NOTE:-"not run (--gateway not given)"}

# --- the edges ---------------------------------------------------------------------------------------------------
TOKEN_KEY=$(head -c 32 /dev/urandom | base64)
edge_config() { # site cost-of-A's-link-to-C
  python3 - "$1" "$2" <<EOF
import json, sys
site, ac = sys.argv[1], float(sys.argv[2])
uuids = {"a": "${EDGE_UUID[a]}", "b": "${EDGE_UUID[b]}", "c": "${EDGE_UUID[c]}"}
nodes = {"a": "${NODE_UUID[a]}", "b": "${NODE_UUID[b]}", "c": "${NODE_UUID[c]}"}
nodeports = {"a": ${PORT[a1]}, "b": ${PORT[b1]}, "c": ${PORT[c1]}}
fwd = {("a","b"): ${PORT[fwd-a-b]}, ("a","c"): ${PORT[fwd-a-c]}, ("b","a"): ${PORT[fwd-b-a]},
       ("b","c"): ${PORT[fwd-b-c]}, ("c","a"): ${PORT[fwd-c-a]}, ("c","b"): ${PORT[fwd-c-b]}}
peers = [{"Name": p, "Uuid": uuids[p], "Backends": [f"http://127.0.0.1:{fwd[(site, p)]}"],
          "LinkCost": ac if {site, p} == {"a", "c"} else 10, "Clusters": ["$CLUSTER"]}
         for p in "abc" if p != site]
print(json.dumps({"AnnexEdge": {
    "Uuid": uuids[site],
    "Repositories": [{"Name": site + "1", "Uuid": nodes[site], "Jobs": 4, "Backends": [f"http://127.0.0.1:{nodeports[site]}"]}],
    "Clusters": [{"Name": "$CLUSTER", "Uuid": "$CLUSTER_UUID", "Nodes": [site + "1"]}],
    "Peers": peers,
    "Routing": {"RefreshInterval": "00:00:01", "MaxRouteAge": "00:00:30"},
    "Anonymous": {"*": "full"},
    "Locking": {"TokenKey": "$TOKEN_KEY"}},
  "Serilog": {"MinimumLevel": {"Default": "Warning"}}}, indent=1))
EOF
}
for s in "${SITES[@]}"; do
  edge_config "$s" 10 >"$WORK/edge-$s.json"
  start "$WORK/edge-$s.log" "$WORK" dotnet "$EDGE_DLL" --config "$WORK/edge-$s.json" --urls "http://127.0.0.1:${PORT[edge-$s]}"
  PID[edge-$s]=${PIDS[-1]}
done
cluster_url() { echo "http://127.0.0.1:${PORT[$1]}/git-annex/$CLUSTER_UUID/v4/$2"; }
for s in "${SITES[@]}"; do wait_for "edge $s" curl -sf -X POST "$(cluster_url "edge-$s" "gettimestamp?clientuuid=$CLIENT")"; done

# A's route to c1: prints "nextHop cost" once not withdrawn.
route_to_c1() {
  curl -sf "http://127.0.0.1:${PORT[edge-a]}/_annexedge/routes" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["routes"]:
    if r["destination"] == sys.argv[1] and r["withdrawn"] is None:
        print(r["nextHop"], r["cost"])' "${NODE_UUID[c]}"
}
# Sets the routing state (direct or viab): rewrites A's config file (the edge reloads it) and waits, with a deadline,
# until A's route to c1 goes through C (direct) or through B (viab), and B routes c1 directly.
STATE=""
set_state() { # direct|viab
  local want cost r
  [ "$STATE" != "$1" ] || return 0
  case "$1" in direct) want=c cost=10 ;; viab) want=b cost=50 ;; esac
  edge_config a "$cost" >"$WORK/edge-a.json.new" && mv "$WORK/edge-a.json.new" "$WORK/edge-a.json"
  for _ in $(seq 1 300); do
    r=$(route_to_c1 || true)
    [ "${r%% *}" != "$want" ] || { STATE=$1; log "A routes c1 via ${r%% *} (cost ${r#* })"; return 0; }
    sleep 0.1
  done
  die "A's route to c1 did not move to next hop $want within 30 s (now: '$r')"
}
set_state direct

# --- measurements ------------------------------------------------------------------------------------------------
present_on() { # site key -> exit 0 if the site's node has it
  [[ $(curl -s -X POST "$(node_url "${1}1" "$1" "checkpresent?key=$2&clientuuid=$CLIENT")") == *'"present":true'* ]]
}
remove_everywhere() { # key
  local s answer
  for s in "${SITES[@]}"; do
    present_on "$s" "$1" || continue
    answer=$(curl -s -X POST "$(node_url "${s}1" "$s" "remove?key=$1&clientuuid=$CLIENT")")
    [[ $answer == *'"removed":true'* ]] || die "remove of $1 from ${s}1: $answer"
  done
}
for s in a b; do ! present_on "$s" "$GET_KEY" || die "the GET object is on ${s}1"; done
present_on c "$GET_KEY" && present_on c "$SMALL_KEY" || die "the GET objects are not on c1"

# Each PUT stores a fresh key (the base object with its first 64 bytes made new): git-annex's gateway skips nodes
# its location log says have the key, and a key removed from a node behind its back stays logged there.
head -c "${PUT_MIB}M" /dev/urandom >"$WORK/put.bin"
PUT_BYTES=$((PUT_MIB * 1024 * 1024))
fresh_put_key() { # sets PUT_KEY
  dd if=/dev/urandom of="$WORK/put.bin" bs=64 count=1 conv=notrunc status=none
  PUT_KEY="SHA256-s$PUT_BYTES--$(sha256sum "$WORK/put.bin" | cut -d' ' -f1)"
}
put_one() { # url answer-file -> "http_code seconds"
  curl -s -o "$2" --max-time "$MAX_TIME" -w '%{http_code} %{time_total}' -X POST -T "$WORK/put.bin" \
    -H 'Expect:' -H 'Content-Type: application/octet-stream' -H "X-git-annex-data-length: $PUT_BYTES" \
    "$1?key=$PUT_KEY&clientuuid=$CLIENT"
}
check_stored() { # what code answer-file sites-that-must-have-it...
  local what=$1 code=$2 answer s
  answer=$(cat "$3"); shift 3
  [ "$code" = 200 ] && [[ $answer == *'"stored":true'* ]] || die "$what: status $code, answer $answer"
  for s in "$@"; do present_on "$s" "$PUT_KEY" || die "$what: answered $answer but ${s}1 lacks the object"; done
}

# Each measure_* sets SECS. Path names: edge, direct (the client to the node(s) itself), gateway (git-annex's).
measure_put() { # path
  local r code s t0 t1 curls=() url
  fresh_put_key
  case "$1" in
    edge | gateway)
      url=$(cluster_url "$([ "$1" = edge ] && echo edge-a || echo gw-a)" put)
      r=$(put_one "$url" "$WORK/answer") || die "PUT via $1: curl exit $?"
      read -r code SECS <<<"$r"
      check_stored "PUT via $1 ($STATE)" "$code" "$WORK/answer" a b c ;;
    direct)
      t0=$(date +%s.%N)
      put_one "$(node_url a1 a put)" "$WORK/answer-a" >"$WORK/code-a" & curls+=($!)
      put_one "$(node_url node-b b put)" "$WORK/answer-b" >"$WORK/code-b" & curls+=($!)
      put_one "$(node_url "$([ "$STATE" = direct ] && echo node-c || echo node-ab)" c put)" "$WORK/answer-c" >"$WORK/code-c" & curls+=($!)
      for s in "${curls[@]}"; do wait "$s" || die "3-way PUT: a curl failed"; done
      t1=$(date +%s.%N)
      for s in "${SITES[@]}"; do check_stored "3-way PUT to ${s}1" "$(cut -d' ' -f1 "$WORK/code-$s")" "$WORK/answer-$s" "$s"; done
      SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}') ;;
  esac
}
get_url() { # path key
  case "$1" in
    edge) cluster_url edge-a "key/$2?clientuuid=$CLIENT" ;;
    gateway) cluster_url gw-a "key/$2?clientuuid=$CLIENT" ;;
    direct) node_url "$([ "$STATE" = direct ] && echo node-c || echo node-ab)" c "key/$2?clientuuid=$CLIENT" ;;
    direct0) node_url node-c0 c "key/$2?clientuuid=$CLIENT" ;;
    local) node_url c1 c "key/$2?clientuuid=$CLIENT" ;;
  esac
}
measure_get() { # path
  local r code size
  r=$(curl -s -o /dev/null --max-time "$MAX_TIME" -w '%{http_code} %{size_download} %{time_total}' "$(get_url "$1" "$GET_KEY")") \
    || die "GET via $1 ($STATE): curl exit $?"
  read -r code size SECS <<<"$r"
  [ "$code" = 200 ] && [ "$size" = $((GET_MIB * 1024 * 1024)) ] || die "GET via $1 ($STATE): status $code, $size bytes"
}
# SMALL_REPEATS + 1 GETs of the 4 KiB key on one keep-alive connection; SECS is the median of all but the first.
measure_small() { # path
  local url args=() i
  url=$(get_url "$1" "$SMALL_KEY")
  for i in $(seq 0 "$SMALL_REPEATS"); do args+=(-o /dev/null "$url"); done
  curl -s --max-time "$MAX_TIME" -w '%{http_code} %{size_download} %{time_total}\n' "${args[@]}" >"$WORK/small" \
    || die "small GET via $1 ($STATE): curl exit $?"
  awk 'NR > 1 && ($1 != 200 || $2 != 4096) { exit 1 }' "$WORK/small" || die "small GET via $1 ($STATE): $(sort -u "$WORK/small" | head -3)"
  SECS=$(awk 'NR > 1 { print $3 }' "$WORK/small" | sort -g | awk '{ t[NR] = $1 } END { printf "%.6f", NR % 2 ? t[(NR+1)/2] : (t[NR/2] + t[NR/2+1]) / 2 }') \
    || die "small GET via $1 ($STATE) failed"
}

PROCS=(edge-a edge-b edge-c forwarder a1 b1 c1)
[ "$GATEWAY" = 0 ] || PROCS+=(gw-a gw-b gw-c)
RESULTS="$WORK/results.tsv"
record() { # operation path measure-command...
  local op=$1 p=$2 q before=() after=()
  shift 2
  for q in "${PROCS[@]}"; do before+=("$(ticks "${PID[$q]}")"); done
  "$@"
  for q in "${PROCS[@]}"; do after+=("$(ticks "${PID[$q]}")"); done
  if [ "$round" -gt 0 ]; then
    printf '%s\t%s\t%s\t%s\t%s\t%s' "$op" "$p" "$STATE" "$round" "$SECS" "$(cut -d' ' -f1 /proc/loadavg)" >>"$RESULTS"
    for q in "${!PROCS[@]}"; do printf '\t%s' $((after[q] - before[q])) >>"$RESULTS"; done
    echo >>"$RESULTS"
  fi
  log "round $round $STATE $op $p ${SECS}s"
}

PATHS=(edge direct)
# One state's measurements in a round (round 0: the warm-up, not recorded).
measure_state() { # state
  local p s n paths=("${PATHS[@]}")
  set_state "$1"
  # git-annex's gateways have no path via B (see above): measured in the direct state only.
  [ "$GATEWAY" = 0 ] || [ "$1" = viab ] || paths+=(gateway)
  n=${#paths[@]}
  s=$(( round % n ))
  for p in "${paths[@]:s}" "${paths[@]:0:s}"; do settle; record get "$p" measure_get "$p"; done
  for p in "${paths[@]:s}" "${paths[@]:0:s}"; do record get-small "$p" measure_small "$p"; done
  for p in "${paths[@]:s}" "${paths[@]:0:s}"; do
    settle
    record put "$p" measure_put "$p"
    remove_everywhere "$PUT_KEY"
  done
}

: >"$RESULTS"
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
log "warming up (round 0, not recorded)"
round=0
measure_state direct
measure_state viab
# The forwarder alone: a GET of c1's object straight from the node, and through a forwarder without delay.
for round in 1 2 3; do
  for p in local direct0; do settle; record get-fwd "$p" measure_get "$p"; done
done
log "measuring: $ROUNDS rounds, GET $GET_MIB MiB and 4 KiB, PUT $PUT_MIB MiB, $DELAY_MS ms one way per link"
for round in $(seq 1 "$ROUNDS"); do
  # The state the previous round ended in goes first: one switch per round.
  if [ "$STATE" = direct ]; then measure_state direct; measure_state viab; else measure_state viab; measure_state direct; fi
done

{
  echo "DATE=$(date -u +%Y-%m-%d\ %H:%M) UTC"
  echo "MACHINE=$(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "LOADAVG=$LOADAVG"
  echo "LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "ROUNDS=$ROUNDS"
  echo "GET_MIB=$GET_MIB"
  echo "PUT_MIB=$PUT_MIB"
  echo "DELAY_MS=$DELAY_MS"
  echo "SMALL_REPEATS=$SMALL_REPEATS"
  echo "GATEWAY=$GATEWAY"
  echo "GATEWAY_NOTE=$GATEWAY_NOTE"
  echo "PROCS=${PROCS[*]}"
  echo "COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src || echo '+changes')"
  echo "DOTNET=$(dotnet --version)"
  echo "ANNEX=$(git-annex version --raw)"
  echo "CLK_TCK=$(getconf CLK_TCK)"
} >"$WORK/meta.env"

mkdir -p "$OUT"
python3 "$ROOT/bench/multisite-report.py" "$RESULTS" "$WORK/meta.env" | tee "$OUT/multisite-latest.md"
cp "$RESULTS" "$OUT/multisite-latest.tsv"
