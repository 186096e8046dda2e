#!/usr/bin/env bash
# How often a real `git annex p2phttp` stops a GET short of its end, and whether the client through AnnexEdge still
# gets every object whole. N objects (default 30 of 48 MiB, random) are PUT straight to one node; each is then got
# twice: straight from the node (curl gives up after --direct-limit seconds without the end) and through the edge
# (Forwarding:StallTimeout --stall-timeout), whose client waits as long as it needs; odd objects through the edge
# first, even ones direct first, since the first GET of a fresh object stalls most often. Counts direct GETs that
# stalled, edge GETs that the edge continued (its event 2004) or could not (2005), and checks every edge GET's
# SHA-256. Not a speed benchmark: a reliability figure for bench/README.md ("Stalled GETs").
#
# usage: bench/stall.sh [--objects N] [--mib M] [--stall-timeout SECONDS] [--direct-limit SECONDS]
set -euo pipefail
OBJECTS=30 MIB=48 STALL=5 DIRECT_LIMIT=15
while [ $# -gt 0 ]; do
  case "$1" in
    --objects) OBJECTS=${2:?--objects needs a number}; shift 2 ;;
    --mib) MIB=${2:?--mib needs a number}; shift 2 ;;
    --stall-timeout) STALL=${2:?--stall-timeout needs seconds}; shift 2 ;;
    --direct-limit) DIRECT_LIMIT=${2:?--direct-limit needs seconds}; shift 2 ;;
    *) echo "usage: $0 [--objects N] [--mib M] [--stall-timeout SECONDS] [--direct-limit SECONDS]" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/lib.sh"
bench_init stall
need git-annex "apt-get install git-annex"
need curl "apt-get install curl"
need dotnet "the .NET 10 SDK"
need python3 "apt-get install python3"

build_edge

git init -q -b main "$WORK/node"
(cd "$WORK/node" && git annex init -q stall-node)
UUID=$(git -C "$WORK/node" config annex.uuid)
NODE_PORT=$(free_port)
start "$WORK/node.log" "$WORK/node" git-annex p2phttp --bind 127.0.0.1 --port "$NODE_PORT" --jobs 4 --wideopen
wait_for "git annex p2phttp" curl -sf -X POST "http://127.0.0.1:$NODE_PORT/git-annex/$UUID/v4/gettimestamp?clientuuid=$CLIENT"

cat >"$WORK/edge.json" <<EOF
{ "AnnexEdge": {
    "Repositories": [ { "Name": "node", "Uuid": "$UUID", "Backends": [ "http://127.0.0.1:$NODE_PORT" ] } ],
    "Anonymous": { "*": "full" },
    "Limits": { "RequestsPerSecondPerIp": 0 },
    "Forwarding": { "StallTimeout": "$(printf '00:00:%02d' "$STALL")" },
    "Locking": { "TokenKey": "$(head -c 32 /dev/urandom | base64)" } },
  "Serilog": { "MinimumLevel": { "Default": "Warning" } } }
EOF
EDGE_PORT=$(free_port)
start "$WORK/edge.log" "$WORK" dotnet "$EDGE_DLL" --config "$WORK/edge.json" --urls "http://127.0.0.1:$EDGE_PORT"
wait_for "the edge" curl -sf "http://127.0.0.1:$EDGE_PORT/_annexedge/health"

direct_stalls=0 edge_bad=0 edge_slowest=0
get_direct() {
  size=$(curl -s -o /dev/null --max-time "$DIRECT_LIMIT" -w '%{size_download}' \
    "http://127.0.0.1:$NODE_PORT/git-annex/$UUID/v4/key/$key?clientuuid=$CLIENT" || true)
  if [ "$size" != "$((MIB * 1024 * 1024))" ]; then
    direct_stalls=$((direct_stalls + 1))
    log "object $i: direct GET stopped after $size bytes"
  fi
}
get_edge() {
  start_ns=$(date +%s%N)
  got=$(curl -s --max-time 300 "http://127.0.0.1:$EDGE_PORT/git-annex/$UUID/v4/key/$key?clientuuid=$CLIENT" | sha256sum | cut -d' ' -f1)
  ms=$((($(date +%s%N) - start_ns) / 1000000))
  [ "$ms" -gt "$edge_slowest" ] && edge_slowest=$ms
  if [ "$got" != "$sum" ]; then
    edge_bad=$((edge_bad + 1))
    log "object $i: edge GET was not whole ($ms ms)"
  elif [ "$ms" -gt $((STALL * 1000)) ]; then
    log "object $i: edge GET whole after $ms ms"
  fi
}
for i in $(seq 1 "$OBJECTS"); do
  head -c "${MIB}M" /dev/urandom >"$WORK/object"
  sum=$(sha256sum "$WORK/object" | cut -d' ' -f1)
  key="SHA256-s$((MIB * 1024 * 1024))--$sum"
  curl -sf -X POST -H "X-git-annex-data-length: $((MIB * 1024 * 1024))" --data-binary @"$WORK/object" \
    "http://127.0.0.1:$NODE_PORT/git-annex/$UUID/v4/put?key=$key&clientuuid=$CLIENT" >"$WORK/put-answer" || die "PUT $i"
  grep -q '"stored":true' "$WORK/put-answer" || die "PUT $i not stored: $(cat "$WORK/put-answer")"

  # The first GET of a fresh object stalls most often: odd objects go through the edge first, even ones direct first.
  if [ $((i % 2)) = 1 ]; then get_edge; get_direct; else get_direct; get_edge; fi
done

continued=$(grep -c '"Id": 2004' "$WORK/edge.log" || true)
not_continued=$(grep -c '"Id": 2005' "$WORK/edge.log" || true)
echo "| objects | MiB | direct GETs stalled (no end within ${DIRECT_LIMIT} s) | edge GETs not whole | edge continuations (2004) | not continued (2005) | slowest edge GET | StallTimeout |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $OBJECTS | $MIB | $direct_stalls | $edge_bad | $continued | $not_continued | $edge_slowest ms | $STALL s |"
[ "$edge_bad" = 0 ] || die "$edge_bad edge GETs were not whole"
