#!/usr/bin/env bash
# What one proxied request costs the proxy (issue 17: where the CPU per small file goes). Proxies side by side in one
# lab, all in front of the same `git annex p2phttp` node: AnnexEdge (Release, Serilog Warning), AnnexEdge with
# DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1, and bench/PlainProxy (YARP alone, the framework's floor), with and
# without inline completions. bench/requests.py sends N sequential requests of each kind (checkpresent, putoffset, put
# of 8 KiB, remove) on one keep-alive connection; each proxy is measured in turn, each round starting one further.
# Reports per request the proxy's CPU time and voluntary/involuntary context switches (all its threads): medians
# (min–max) over the rounds.
#
# usage: bench/requests.sh [--count N] [--rounds R] [--edge-env NAME=VALUE]...
#   defaults: 300 requests of each kind, 3 rounds (~6 min)
#   --edge-env  an environment variable for the two AnnexEdge processes only (e.g. DOTNET_gcServer=0), repeatable;
#               PlainProxy runs without it, so it stays the same floor to compare against
set -euo pipefail

COUNT=300 ROUNDS=3 EDGE_ENV=()
while [ $# -gt 0 ]; do
  case "$1" in
    --count) COUNT=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --edge-env) [[ ${2:-} == *=* ]] || { echo "--edge-env needs NAME=VALUE" >&2; exit 2; }; EDGE_ENV+=("$2"); shift 2 ;;
    *) sed -n '2,13s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/lib.sh"
bench_init requests
need git-annex "apt-get install git-annex"
need curl "apt-get install curl"
need python3 "apt-get install python3"
declare -A PORT PID NODE_UUID
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

build_edge
log "building bench/PlainProxy (Release)"
dotnet build -c Release --nologo -v q "$ROOT/bench/PlainProxy" >"$WORK/build-plain.log" 2>&1 || { cat "$WORK/build-plain.log"; die "build of PlainProxy"; }
PLAIN_DLL="$ROOT/bench/PlainProxy/bin/Release/net10.0/PlainProxy.dll"
make_cluster_lab
start_cluster_lab 16
NODE="http://127.0.0.1:${PORT[node1]}"
wait_for node1 curl -sf -X POST "$NODE/git-annex/${NODE_UUID[1]}/v4/gettimestamp?clientuuid=$CLIENT"

INLINE=DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1
proxies=(edge edge-inline plain plain-inline)
declare -A COMMAND=(
  [edge]="env ${EDGE_ENV[*]} dotnet $EDGE_DLL --config $WORK/edge.json"
  [edge-inline]="env ${EDGE_ENV[*]} $INLINE dotnet $EDGE_DLL --config $WORK/edge.json"
  [plain]="env BACKEND=$NODE dotnet $PLAIN_DLL"
  [plain-inline]="env BACKEND=$NODE $INLINE dotnet $PLAIN_DLL")
for proxy in "${proxies[@]}"; do
  PORT[$proxy]=$(free_port)
  # shellcheck disable=SC2086 # COMMAND is a word list
  start "$WORK/$proxy.log" "$WORK" ${COMMAND[$proxy]} --urls "http://127.0.0.1:${PORT[$proxy]}"
  PID[$proxy]=${PIDS[-1]}
  wait_for "$proxy" curl -sf -X POST "http://127.0.0.1:${PORT[$proxy]}/git-annex/${NODE_UUID[1]}/v4/gettimestamp?clientuuid=$CLIENT"
  log "warm-up of $proxy"
  python3 "$ROOT/bench/requests.py" 127.0.0.1 "${PORT[$proxy]}" "${NODE_UUID[1]}" "${PID[$proxy]}" 1000 >/dev/null \
    || die "warm-up of $proxy"
done

TSV="$WORK/requests.tsv"
: >"$TSV"
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!proxies[@]}"; do
    proxy=${proxies[$(( (i + round) % ${#proxies[@]} ))]}
    log "round $round: $proxy"
    python3 "$ROOT/bench/requests.py" 127.0.0.1 "${PORT[$proxy]}" "${NODE_UUID[1]}" "${PID[$proxy]}" "$COUNT" \
      | sed "s/^/$proxy /" >>"$TSV" || die "round $round of $proxy"
  done
done

mkdir -p "$OUT"
cp "$TSV" "$OUT/requests-latest.tsv"
python3 - "$TSV" "$COUNT" "$ROUNDS" "$LOADAVG_START" "$(cut -d' ' -f1-3 /proc/loadavg)" "${EDGE_ENV[*]}" \
  >"$OUT/requests-latest.md" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
count, rounds, load0, load, env = sys.argv[2:]
proxies = ["edge", "edge-inline", "plain", "plain-inline"]
def cell(proxy, kind, column, unit):
    values = [float(r[column]) for r in rows if r[0] == proxy and r[1] == kind]
    return f"{statistics.median(values):.{0 if unit == 'µs' else 1}f} ({min(values):g}–{max(values):g})"
print(f"# One proxied request: {count} sequential requests of each kind, {rounds} rounds (load average at the start {load0}, at the end {load})\n")
if env:
    print(f"Edge environment (both AnnexEdge processes): {env}.\n")
print("Per request, of the proxy process: median (min–max) over the rounds. edge = AnnexEdge; plain = bench/PlainProxy")
print("(YARP alone); -inline = DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1.\n")
print("| request | figure | " + " | ".join(proxies) + " |")
print("|---|---|" + "---|" * len(proxies))
for kind in ["checkpresent", "putoffset", "put", "remove"]:
    for column, figure, unit in [(3, "CPU µs", "µs"), (4, "voluntary switches", ""), (5, "involuntary switches", "")]:
        print(f"| {kind} | {figure} | " + " | ".join(cell(p, kind, column, unit) for p in proxies) + " |")
PY
cat "$OUT/requests-latest.md"
