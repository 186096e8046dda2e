# What bench/run.sh, bench/cluster.sh and bench/files.sh share. A script sources this, then calls
# `bench_init NAME` (its log prefix and work directory), and may define on_failure() to say more when it dies.
need() { command -v "$1" >/dev/null || { echo "bench: $1 is required ($2)" >&2; exit 1; }; }
bench_init() { # name
  BENCH_NAME=$1
  ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  OUT="$ROOT/bench/results"
  CLIENT=00000000-0000-4000-8000-00000000bec0
  WORK=$(mktemp -d "/tmp/annexedge-$1.XXXXXX")
  PIDS=()
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
}
# BENCH_KEEP_LOGS=1 keeps the services' logs of a run that succeeded too, in bench/results/logs/NAME/.
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${BENCH_KEEP_LOGS:-}" = 1 ]; then
    rm -rf "$OUT/logs/$BENCH_NAME" && mkdir -p "$OUT/logs/$BENCH_NAME"
    find "$WORK" -maxdepth 2 -name '*.log' -exec cp -t "$OUT/logs/$BENCH_NAME/" {} + 2>/dev/null
    log "logs kept in $OUT/logs/$BENCH_NAME/"
  fi
  rm -rf "$WORK"
}
log() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "FAILED: $*"
  if declare -F on_failure >/dev/null; then on_failure; fi
  # The services' logs explain most failures; keep them.
  mkdir -p "$OUT/failed" && cp "$WORK"/*.log "$OUT/failed/" 2>/dev/null && log "logs kept in $OUT/failed/"
  exit 1
}
build_edge() { # sets EDGE_DLL
  log "building AnnexEdge (Release)"
  dotnet build -c Release --nologo -v q "$ROOT/src/AnnexEdge" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; die "build of AnnexEdge"; }
  EDGE_DLL="$ROOT/src/AnnexEdge/bin/Release/net10.0/AnnexEdge.dll"
}
# The edge as it ships: `dotnet publish` with the project's own publish settings (ReadyToRun); sets EDGE_DLL.
publish_edge() {
  log "publishing AnnexEdge (Release, as shipped)"
  dotnet publish -c Release --nologo -v q -o "$WORK/publish" "$ROOT/src/AnnexEdge" >"$WORK/publish.log" 2>&1 || { cat "$WORK/publish.log"; die "publish of AnnexEdge"; }
  EDGE_DLL="$WORK/publish/AnnexEdge.dll"
}
# bench/AnnexEdge.Bench, the load generator and connection holder; sets LOADGEN.
build_loadgen() {
  dotnet build -c Release --nologo -v q "$ROOT/bench/AnnexEdge.Bench" >"$WORK/build-bench.log" 2>&1 || { cat "$WORK/build-bench.log"; die "build of the load generator"; }
  LOADGEN="$ROOT/bench/AnnexEdge.Bench/bin/Release/net10.0/AnnexEdge.Bench.dll"
}
# A self-signed ECDSA P-256 certificate for 127.0.0.1 in $WORK/tls (cert.pem, key.pem), trusted by the clients alone
# (curl through CURL_CA_BUNDLE, the load generator through BENCH_CA_FILE).
make_certificate() {
  mkdir -p "$WORK/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>"$WORK/openssl.log" \
    || die "openssl could not make the benchmark's certificate"
  export CURL_CA_BUNDLE="$WORK/tls/cert.pem" BENCH_CA_FILE="$WORK/tls/cert.pem"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Each service gets its own process group (setsid execs in place, so $! is the service itself and the group id),
# so cleanup ends it with everything it spawned.
start() { # logfile dir command...
  local logfile=$1 dir=$2; shift 2
  (cd "$dir" && exec setsid "$@" >"$logfile" 2>&1) &
  PIDS+=("$!")
}
wait_for() { # what command...
  local what=$1; shift
  for _ in $(seq 1 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "$what did not come up"
}
kib_to_mib() { awk '{printf "%.0f", $1/1024}'; }
proc_kib() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }
# utime+stime in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Before every measurement: the objects a PUT stored (up to 3 GiB after a 1 GiB fan-out) are written back to disk
# first, so that writeback does not run during, and slow, whichever measurement comes next.
settle() { sync; sleep 0.5; }

# The cluster lab of cluster.sh and files.sh, as /work/shared/tools/mini-lab.sh makes it: node1..3, and git-annex's
# gateway repository made with initcluster + updatecluster, the nodes as its local-path remotes. Sets NODE_UUID,
# GW_UUID and CLUSTER_UUID (declare -A NODE_UUID first).
make_cluster_lab() {
  local i
  log "creating 3 node repositories and git-annex's gateway"
  for i in 1 2 3; do
    git init -q -b main "$WORK/node$i"
    (cd "$WORK/node$i" && git annex init -q "node$i" && git config receive.denyCurrentBranch updateInstead)
    NODE_UUID[$i]=$(git -C "$WORK/node$i" config annex.uuid)
  done
  git init -q -b main "$WORK/gateway"
  (
    cd "$WORK/gateway"
    git annex init -q gateway
    git config receive.denyCurrentBranch updateInstead
    git annex initcluster mycluster >/dev/null
    for i in 1 2 3; do
      git remote add "node$i" "$WORK/node$i"
      git config "remote.node$i.annex-cluster-node" mycluster
      git fetch -q "node$i"
    done
    git annex updatecluster >/dev/null 2>&1
  )
  GW_UUID=$(git -C "$WORK/gateway" config annex.uuid)
  CLUSTER_UUID=$(git -C "$WORK/gateway" show git-annex:cluster.log | awk '{print $2}' | head -1)
  [[ $CLUSTER_UUID == ac* ]] || die "no cluster UUID in the gateway's git-annex branch: '$CLUSTER_UUID'"
}

# Starts node1..3 and git-annex's gateway with `git annex p2phttp --jobs JOBS` (PORT and PID: declare -A first), and
# writes the edge's config for the same nodes and cluster to $WORK/edge.json.
start_cluster_lab() { # jobs
  local i
  for i in 1 2 3; do
    PORT[node$i]=$(free_port)
    start "$WORK/node$i.log" "$WORK/node$i" git-annex p2phttp --bind 127.0.0.1 --port "${PORT[node$i]}" --jobs "$1" --wideopen
    PID[node$i]=${PIDS[-1]}
  done
  PORT[gateway]=$(free_port)
  start "$WORK/gateway.log" "$WORK/gateway" git-annex p2phttp --bind 127.0.0.1 --port "${PORT[gateway]}" --jobs "$1" \
    --clusterjobs 3 --wideopen
  PID[gateway]=${PIDS[-1]}
  cat >"$WORK/edge.json" <<JSON
{ "AnnexEdge": {
    "Uuid": "$GW_UUID",
    "Repositories": [
      { "Name": "node1", "Uuid": "${NODE_UUID[1]}", "Jobs": $1, "Backends": [ "http://127.0.0.1:${PORT[node1]}" ] },
      { "Name": "node2", "Uuid": "${NODE_UUID[2]}", "Jobs": $1, "Backends": [ "http://127.0.0.1:${PORT[node2]}" ] },
      { "Name": "node3", "Uuid": "${NODE_UUID[3]}", "Jobs": $1, "Backends": [ "http://127.0.0.1:${PORT[node3]}" ] } ],
    "Clusters": [ { "Name": "mycluster", "Uuid": "$CLUSTER_UUID", "Nodes": [ "node1", "node2", "node3" ] } ],
    "Anonymous": { "*": "full" },
    "Locking": { "TokenKey": "$(head -c 32 /dev/urandom | base64)" } },
  "Serilog": { "MinimumLevel": { "Default": "Warning" } } }
JSON
}
