#!/usr/bin/env bash
# Benchmark of AnnexEdge's core against a direct connection to one `git annex p2phttp` node and against Caddy
# as a plain reverse proxy in front of the same node, over plain HTTP and over HTTPS (the client talks TLS to the edge
# and to Caddy, both with the same self-signed ECDSA P-256 certificate from files; both talk plain HTTP to the node).
# Everything runs on loopback; the paths are measured in turn (direct, edge, edge with Information log, Caddy, edge
# over HTTPS, Caddy over HTTPS, direct, ...; each round starting one path further) so that machine noise hits them
# alike.
#
# usage: bench/run.sh [--rounds N] [--quick] [--edge-env NAME=VALUE]... [--second-edge-transport NAME]
#   --quick     smoke run: GET 64 MiB, PUT 32 MiB, 2 s per req/s measurement, 2 rounds
#   --edge-env  an environment variable for the edge processes only (e.g. a .NET runtime knob), repeatable
#   --second-edge-transport  the second edge logs at Warning too and downloads over this
#               Forwarding:DownloadTransport, measured interleaved with the first (instead of the Information log)
# Prints a markdown table and writes it to bench/results/latest.md.
set -euo pipefail

ROUNDS=5 GET_MIB=512 PUT_MIB=256 RPS_SECS=5 EDGE_ENV=() SECOND_EDGE=
# A GET takes about a second; one that has not ended after this long is a stalled answer (see measure_get).
GET_MAX_TIME=${BENCH_GET_MAX_TIME:-60}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
    --quick) GET_MIB=64 PUT_MIB=32 RPS_SECS=2 ROUNDS=2; shift ;;
    --edge-env) [[ ${2:-} == *=* ]] || { echo "--edge-env needs NAME=VALUE" >&2; exit 2; }; EDGE_ENV+=("$2"); shift 2 ;;
    --second-edge-transport) SECOND_EDGE=${2:?--second-edge-transport needs a transport name}; shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--quick] [--edge-env NAME=VALUE]... [--second-edge-transport NAME]" >&2; exit 2 ;;
  esac
done
# --rounds after --quick wins.
. "$(dirname "$0")/lib.sh"
bench_init bench
need git-annex "apt-get install git-annex"
need caddy "apt-get install caddy"
need curl "apt-get install curl"
need dotnet "the .NET 10 SDK"
need python3 "apt-get install python3"
need openssl "apt-get install openssl"

build_edge
build_loadgen

# One certificate for both TLS paths, trusted by the clients (curl --cacert, the load generator's BENCH_CA_FILE) alone.
make_certificate

log "creating the node's repository with a $GET_MIB MiB object"
git init -q -b main "$WORK/node"
(cd "$WORK/node" && git annex init -q bench-node)
head -c "${GET_MIB}M" /dev/urandom >"$WORK/node/big.bin"
(cd "$WORK/node" && git annex add -q big.bin && git commit -q -m big)
GET_KEY=$(cd "$WORK/node" && git annex lookupkey big.bin)
UUID=$(git -C "$WORK/node" config annex.uuid)
# The PUT object is not in the node: it is sent, then removed after every PUT so each PUT really stores it.
head -c "${PUT_MIB}M" /dev/urandom >"$WORK/put.bin"
PUT_KEY="SHA256-s$((PUT_MIB * 1024 * 1024))--$(sha256sum "$WORK/put.bin" | cut -d' ' -f1)"

NODE_PORT=$(free_port)
start "$WORK/node.log" "$WORK/node" git-annex p2phttp --bind 127.0.0.1 --port "$NODE_PORT" --jobs 4 --wideopen
NODE_PID=${PIDS[-1]}
wait_for "git annex p2phttp" curl -sf -X POST "http://127.0.0.1:$NODE_PORT/git-annex/$UUID/v4/gettimestamp?clientuuid=$CLIENT"

write_edge_config() { # file serilog-section-or-empty
  cat >"$1" <<EOF
{ "AnnexEdge": {
    "Repositories": [ { "Name": "node", "Uuid": "$UUID", "Backends": [ "http://127.0.0.1:$NODE_PORT" ] } ],
    "Anonymous": { "*": "full" },
    "Limits": { "RequestsPerSecondPerIp": 0 },
    "Locking": { "TokenKey": "$(head -c 32 /dev/urandom | base64)" } }
  $2 }
EOF
}
# Request logging at Information writes a line per request; the main edge measures the core without it.
write_edge_config "$WORK/edge.json" ', "Serilog": { "MinimumLevel": { "Default": "Warning" } }'
SECOND_ENV=()
if [ -n "$SECOND_EDGE" ]; then
  # Two transports side by side, under the same load: the second edge differs from the first in that only.
  write_edge_config "$WORK/edge-info.json" ', "Serilog": { "MinimumLevel": { "Default": "Warning" } }'
  SECOND_ENV=("AnnexEdge__Forwarding__DownloadTransport=$SECOND_EDGE")
else
  write_edge_config "$WORK/edge-info.json" ''
fi
EDGE_PORT=$(free_port)
EDGE_TLS_PORT=$(free_port)
# The main edge serves both: plain HTTP and HTTPS with the certificate files, as an operator configures Kestrel.
start "$WORK/edge.log" "$WORK" env "${EDGE_ENV[@]}" dotnet "$EDGE_DLL" --config "$WORK/edge.json" \
  --urls "http://127.0.0.1:$EDGE_PORT;https://127.0.0.1:$EDGE_TLS_PORT" \
  --Kestrel:Certificates:Default:Path="$WORK/tls/cert.pem" --Kestrel:Certificates:Default:KeyPath="$WORK/tls/key.pem"
EDGE_PID=${PIDS[-1]}
EDGE_INFO_PORT=$(free_port)
start "$WORK/edge-info.log" "$WORK" env "${EDGE_ENV[@]}" "${SECOND_ENV[@]}" dotnet "$EDGE_DLL" --config "$WORK/edge-info.json" --urls "http://127.0.0.1:$EDGE_INFO_PORT"
EDGE_INFO_PID=${PIDS[-1]}

CADDY_PORT=$(free_port)
CADDY_TLS_PORT=$(free_port)
mkdir -p "$WORK/caddy"
# A plain reverse proxy: streaming responses (flush_interval -1); Caddy 2.6 buffers no request bodies by default.
cat >"$WORK/caddy/Caddyfile" <<EOF
{
  admin off
  auto_https off
  storage file_system $WORK/caddy/data
}
http://127.0.0.1:$CADDY_PORT {
  reverse_proxy 127.0.0.1:$NODE_PORT {
    flush_interval -1
  }
}
https://127.0.0.1:$CADDY_TLS_PORT {
  tls $WORK/tls/cert.pem $WORK/tls/key.pem
  reverse_proxy 127.0.0.1:$NODE_PORT {
    flush_interval -1
  }
}
EOF
start "$WORK/caddy.log" "$WORK/caddy" env HOME="$WORK/caddy" XDG_CONFIG_HOME="$WORK/caddy" XDG_DATA_HOME="$WORK/caddy" \
  caddy run --adapter caddyfile --config "$WORK/caddy/Caddyfile"
CADDY_PID=${PIDS[-1]}

declare -A BASE=(
  [direct]="http://127.0.0.1:$NODE_PORT"
  [edge]="http://127.0.0.1:$EDGE_PORT"
  [edge-info]="http://127.0.0.1:$EDGE_INFO_PORT"
  [caddy]="http://127.0.0.1:$CADDY_PORT"
  [edge-tls]="https://127.0.0.1:$EDGE_TLS_PORT"
  [caddy-tls]="https://127.0.0.1:$CADDY_TLS_PORT"
)
PATHS=(direct edge edge-info caddy edge-tls caddy-tls)
for p in "${PATHS[@]}"; do
  wait_for "$p" curl -sf -X POST "${BASE[$p]}/git-annex/$UUID/v4/gettimestamp?clientuuid=$CLIENT"
done
RSS_EDGE_START=$(proc_kib "$EDGE_PID" VmRSS | kib_to_mib)

api() { echo "${BASE[$1]}/git-annex/$UUID/v4/$2"; }

# Each measure_* prints "<value> <requests made>"; the count turns CPU time into CPU per request.
measure_get() { # path -> seconds
  local r rc code size attempt
  for attempt in 1 2 3; do
    r=$(curl -s -o /dev/null --max-time "$GET_MAX_TIME" -w '%{http_code} %{size_download} %{time_total}' "$(api "$1" "key/$GET_KEY?clientuuid=$CLIENT")") \
      && break
    rc=$?
    read -r code size _ <<<"$r"
    # p2phttp itself sometimes stops sending a GET's answer, on every path (seen direct-through-Caddy in session 4, as
    # cluster.sh sees it): the stall has no time to report; it is counted per path in the report and measured again.
    [ "$rc" = 28 ] && [ "$attempt" -lt 3 ] || die "GET via $1: curl exit $rc after $r"
    log "GET via $1: stalled after $size bytes for ${GET_MAX_TIME} s; measuring again"
    echo "$1" >>"$WORK/get-stalls"
  done
  set -- "$1" $r
  [ "$2" = 200 ] && [ "$3" = $((GET_MIB * 1024 * 1024)) ] || die "GET via $1: status $2, $3 bytes"
  # The CPU of a stalled attempt is not this GET's: one request per attempt.
  echo "$4 $attempt"
}

measure_put() { # path -> seconds (the node stores the object; remove_put_object undoes it)
  local r answer
  # -T streams the file with a Content-Length; no "Expect: 100-continue" round trip.
  r=$(curl -s -o "$WORK/put.answer" --max-time 600 -w '%{http_code} %{time_total}' -X POST -T "$WORK/put.bin" \
    -H 'Expect:' -H 'Content-Type: application/octet-stream' -H "X-git-annex-data-length: $((PUT_MIB * 1024 * 1024))" \
    "$(api "$1" "put?key=$PUT_KEY&clientuuid=$CLIENT")") || die "PUT via $1: curl exit $? after $r"
  set -- "$1" $r
  answer=$(cat "$WORK/put.answer")
  [ "$2" = 200 ] && [[ $answer == *'"stored":true'* ]] || die "PUT via $1: status $2, answer $answer"
  echo "$3 1"
}

remove_put_object() {
  local answer
  answer=$(curl -s -X POST "$(api direct "remove?key=$PUT_KEY&clientuuid=$CLIENT")")
  [[ $answer == *'"removed":true'* ]] || die "remove of the PUT object: $answer"
}

measure_rps() { # path concurrency -> requests/s
  local r
  r=$(dotnet "$LOADGEN" "$(api "$1" "checkpresent?key=$GET_KEY&clientuuid=$CLIENT")" "$2" "$RPS_SECS") \
    || die "checkpresent via $1: load generator exit $?"
  set -- "$1" "$2" $r
  [ "$4" = 0 ] || die "checkpresent via $1 at concurrency $2: $4 errors"
  echo "$3 $5"
}

# utime+stime of a process in clock ticks: CPU cost is less disturbed than wall time by other load on the machine.
declare -A PID=([direct]=$NODE_PID [edge]=$EDGE_PID [edge-info]=$EDGE_INFO_PID [caddy]=$CADDY_PID [edge-tls]=$EDGE_PID [caddy-tls]=$CADDY_PID)
record() { # operation path measure-command... ; appends to results.tsv and cpu.tsv
  local op=$1 p=$2 n0 x0 n1 x1 r; shift 2
  n0=$(ticks "$NODE_PID"); x0=$(ticks "${PID[$p]}")
  r=$("$@")
  n1=$(ticks "$NODE_PID"); x1=$(ticks "${PID[$p]}")
  printf '%s\t%s\t%s\t%s\n' "$op" "$p" "$round" "${r% *}" >>"$RESULTS"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$op" "$p" "$round" $((n1 - n0)) $((x1 - x0)) "${r#* }" >>"$WORK/cpu.tsv"
  log "round $round $p $op ${r% *}"
}

# Neither object may be in an unexpected state before the first round.
[[ $(curl -s -X POST "$(api direct "checkpresent?key=$PUT_KEY&clientuuid=$CLIENT")") == *'"present":false'* ]] || die "PUT object already present"

# Warm-up, not recorded: JIT (tiered compilation needs thousands of requests to settle) and connection pools of
# the edge, Caddy's pool, the node's caches.
log "warming up"
for p in "${PATHS[@]}"; do
  log "warming up $p"
  measure_get "$p" >/dev/null
  measure_put "$p" >/dev/null
  remove_put_object
  measure_rps "$p" 32 >/dev/null
done

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
: >"$WORK/cpu.tsv"
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
log "measuring: $ROUNDS rounds of GET $GET_MIB MiB, PUT $PUT_MIB MiB, checkpresent at 1 and 32 connections for $RPS_SECS s"
for round in $(seq 1 "$ROUNDS"); do
  # Each round starts at another path, so no path always follows the same operation (the node's memory and
  # garbage collection after a 512 MiB GET otherwise weigh on whichever PUT comes first).
  shift_by=$(( (round - 1) % ${#PATHS[@]} ))
  ORDER=("${PATHS[@]:shift_by}" "${PATHS[@]:0:shift_by}")
  for p in "${ORDER[@]}"; do
    settle
    record get "$p" measure_get "$p"
  done
  for p in "${ORDER[@]}"; do
    settle
    record put "$p" measure_put "$p"
    remove_put_object
  done
  for c in 1 32; do
    for p in "${ORDER[@]}"; do
      settle
      record "cp$c" "$p" measure_rps "$p" "$c"
    done
  done
done

{
  echo "DATE=$(date -u +%Y-%m-%d)"
  echo "MACHINE=$(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "LOADAVG=$LOADAVG"
  echo "ROUNDS=$ROUNDS"
  echo "GET_MAX_TIME=$GET_MAX_TIME"
  echo "GET_STALLS=$(sort "$WORK/get-stalls" 2>/dev/null | uniq -c | sed 's/^ *\([0-9]*\) \(.*\)/\2: \1/' | paste -sd';' | sed 's/;/; /g')"
  echo "GET_MIB=$GET_MIB"
  echo "PUT_MIB=$PUT_MIB"
  echo "RPS_SECS=$RPS_SECS"
  echo "COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src || echo '+changes')"
  echo "DOTNET=$(dotnet --version)"
  echo "ANNEX=$(git-annex version --raw)"
  echo "CADDY=$(caddy version | cut -d' ' -f1)"
  echo "HWM_EDGE=$(proc_kib "$EDGE_PID" VmHWM | kib_to_mib)"
  echo "HWM_EDGE_INFO=$(proc_kib "$EDGE_INFO_PID" VmHWM | kib_to_mib)"
  echo "HWM_CADDY=$(proc_kib "$CADDY_PID" VmHWM | kib_to_mib)"
  echo "HWM_NODE=$(proc_kib "$NODE_PID" VmHWM | kib_to_mib)"
  echo "RSS_EDGE_START=$RSS_EDGE_START"
  echo "INFO_LOG_LINES=$(wc -l <"$WORK/edge-info.log")"
  echo "CLK_TCK=$(getconf CLK_TCK)"
  echo "EDGE_ENV=${EDGE_ENV[*]}"
  echo "SECOND_EDGE=$SECOND_EDGE"
} >"$WORK/meta.env"

mkdir -p "$OUT"
python3 "$ROOT/bench/report.py" "$RESULTS" "$WORK/cpu.tsv" "$WORK/meta.env" | tee "$OUT/latest.md"
cp "$RESULTS" "$OUT/latest.tsv"
cp "$WORK/cpu.tsv" "$OUT/latest-cpu.tsv"
