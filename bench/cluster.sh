#!/usr/bin/env bash
# Benchmark of AnnexEdge as a cluster gateway (issue 4), in one run on loopback:
#   - 3 real `git annex p2phttp --jobs 4` nodes;
#   - git-annex's own gateway on the same nodes (a repository made as `git annex initcluster` + `updatecluster` make
#     it, the nodes as local-path remotes, served by `git annex p2phttp --clusterjobs 3 --jobs 4`);
#   - AnnexEdge (Release, Serilog Warning) with the 3 nodes and the same cluster UUID.
# PUT to the cluster through both gateways, against the client PUTting the object to the 3 nodes itself at once
# (the machine's limit for that fan-out) and against one direct PUT to one node; GET from the cluster through both
# gateways and directly from a node. Paths are measured in turn, each round starting one path further.
#
# usage: bench/cluster.sh [--rounds N] [--quick]
#   --quick  smoke run: PUT 16 and 64 MiB, GET 64 MiB, 2 rounds
# Prints a markdown report and writes it to bench/results/cluster-latest.md.
set -euo pipefail

# BENCH_MAX_TIME: seconds a single request may take before the run fails (git-annex's gateway once took 591 s).
MAX_TIME=${BENCH_MAX_TIME:-600}
# A GET takes about a second; one that has not ended after this long is a stalled answer (see measure_get).
GET_MAX_TIME=${BENCH_GET_MAX_TIME:-60}
GET_REPEATS=3
ROUNDS=3 PUT_SMALL_MIB=128 PUT_LARGE_MIB=1024 GET_MIB=256
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
    --quick) PUT_SMALL_MIB=16 PUT_LARGE_MIB=64 GET_MIB=64 ROUNDS=2; shift ;;
    *) echo "usage: $0 [--rounds N] [--quick]" >&2; exit 2 ;;
  esac
done
# --rounds after --quick wins.
. "$(dirname "$0")/lib.sh"
bench_init clbench
need git-annex "apt-get install git-annex"
need curl "apt-get install curl"
need dotnet "the .NET 10 SDK"
need python3 "apt-get install python3"
declare -A PORT PID NODE_UUID
# Whether the nodes still answer tells a stuck node from a stuck gateway.
on_failure() {
  local i
  for i in 1 2 3; do
    [ -n "${PORT[node$i]:-}" ] || continue
    log "node$i gettimestamp: $(curl -s -m 5 -X POST "$(node_url "$i" "gettimestamp?clientuuid=$CLIENT")" || echo "no answer in 5 s")"
  done
}

build_edge
make_cluster_lab
git -C "$WORK/gateway" config annex.jobs 4
# The GET object is on all 3 nodes, placed through the gateway repository so that its location log (which
# git-annex's gateway uses to pick a node for GET) knows it; the gateway itself keeps no copy.
log "placing a $GET_MIB MiB object on the 3 nodes"
head -c "${GET_MIB}M" /dev/urandom >"$WORK/gateway/get.bin"
(
  cd "$WORK/gateway"
  git annex add -q get.bin && git commit -q -m get
  for i in 1 2 3; do git annex copy -q --to "node$i" get.bin; done
  git annex drop -q --force get.bin
)
GET_KEY=$(cd "$WORK/gateway" && git annex lookupkey get.bin)

# The PUT objects are on no node; every PUT is followed by an (untimed) remove from every node, so each measured
# PUT really stores the whole object.
declare -A PUT_FILE PUT_KEY PUT_BYTES
for size in small large; do
  mib=$([ $size = small ] && echo "$PUT_SMALL_MIB" || echo "$PUT_LARGE_MIB")
  PUT_FILE[$size]="$WORK/put-$size.bin"
  head -c "${mib}M" /dev/urandom >"${PUT_FILE[$size]}"
  PUT_BYTES[$size]=$((mib * 1024 * 1024))
  PUT_KEY[$size]="SHA256-s${PUT_BYTES[$size]}--$(sha256sum "${PUT_FILE[$size]}" | cut -d' ' -f1)"
done

start_cluster_lab 4
PORT[edge]=$(free_port)
start "$WORK/edge.log" "$WORK" dotnet "$EDGE_DLL" --config "$WORK/edge.json" --urls "http://127.0.0.1:${PORT[edge]}"
PID[edge]=${PIDS[-1]}

node_url() { echo "http://127.0.0.1:${PORT[node$1]}/git-annex/${NODE_UUID[$1]}/v4/$2"; }
cluster_url() { echo "http://127.0.0.1:${PORT[$1]}/git-annex/$CLUSTER_UUID/v4/$2"; }
for i in 1 2 3; do wait_for "node$i" curl -sf -X POST "$(node_url $i "gettimestamp?clientuuid=$CLIENT")"; done
wait_for "git-annex's gateway" curl -sf -X POST "$(cluster_url gateway "gettimestamp?clientuuid=$CLIENT")"
wait_for "AnnexEdge" curl -sf -X POST "$(cluster_url edge "gettimestamp?clientuuid=$CLIENT")"
RSS_EDGE_START=$(proc_kib "${PID[edge]}" VmRSS | kib_to_mib)

present_on() { # node key -> exit 0 if the node has it
  [[ $(curl -s -X POST "$(node_url "$1" "checkpresent?key=$2&clientuuid=$CLIENT")") == *'"present":true'* ]]
}
remove_everywhere() { # key
  local i answer
  for i in 1 2 3; do
    present_on "$i" "$1" || continue
    answer=$(curl -s -X POST "$(node_url "$i" "remove?key=$1&clientuuid=$CLIENT")")
    [[ $answer == *'"removed":true'* ]] || die "remove of $1 from node$i: $answer"
  done
}

put_one() { # url size answer-file -> "http_code seconds"
  curl -s -o "$3" --max-time "$MAX_TIME" -w '%{http_code} %{time_total}' -X POST -T "${PUT_FILE[$2]}" \
    -H 'Expect:' -H 'Content-Type: application/octet-stream' -H "X-git-annex-data-length: ${PUT_BYTES[$2]}" \
    "$1?key=${PUT_KEY[$2]}&clientuuid=$CLIENT"
}
check_stored() { # what code answer-file nodes-that-must-have-it... ; the nodes are asked directly
  local what=$1 code=$2 answer i
  answer=$(cat "$3"); shift 3
  [ "$code" = 200 ] && [[ $answer == *'"stored":true'* ]] || die "$what: status $code, answer $answer"
  for i in "$@"; do present_on "$i" "$KEY" || die "$what: answered $answer but node$i lacks the object"; done
}

# Each measure_* sets SECS; KEY is the object in play.
measure_put() { # path size
  local r code i t0 t1 curls=()
  KEY=${PUT_KEY[$2]}
  case "$1" in
    edge | gateway)
      r=$(put_one "$(cluster_url "$1" put)" "$2" "$WORK/answer") || die "PUT via $1: curl exit $?"
      read -r code SECS <<<"$r"
      check_stored "PUT via $1" "$code" "$WORK/answer" 1 2 3
      # Both gateways must report the 3 nodes as the ones that stored it.
      for i in 1 2 3; do
        grep -q "${NODE_UUID[$i]}" "$WORK/answer" || die "PUT via $1: node$i not in plusuuids: $(cat "$WORK/answer")"
      done ;;
    limit3)
      t0=$(date +%s.%N)
      for i in 1 2 3; do put_one "$(node_url $i put)" "$2" "$WORK/answer$i" >"$WORK/code$i" & curls+=($!); done
      for i in "${curls[@]}"; do wait "$i" || die "3-way PUT: a curl failed"; done
      t1=$(date +%s.%N)
      for i in 1 2 3; do code=$(cut -d" " -f1 "$WORK/code$i"); check_stored "3-way PUT to node$i" "$code" "$WORK/answer$i" "$i"; done
      SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}') ;;
    direct)
      r=$(put_one "$(node_url 1 put)" "$2" "$WORK/answer") || die "direct PUT: curl exit $?"
      read -r code SECS <<<"$r"
      check_stored "direct PUT" "$code" "$WORK/answer" 1 ;;
  esac
}
measure_get() { # path
  local url r size
  KEY=$GET_KEY
  case "$1" in
    edge | gateway) url=$(cluster_url "$1" "key/$GET_KEY?clientuuid=$CLIENT") ;;
    direct) url=$(node_url 1 "key/$GET_KEY?clientuuid=$CLIENT") ;;
  esac
  for attempt in 1 2 3; do
    r=$(curl -s -o /dev/null --max-time "$GET_MAX_TIME" -w '%{http_code} %{size_download} %{time_total}' "$url") && break
    rc=$?
    read -r code size _ <<<"$r"
    # p2phttp sometimes sends every byte of a chunked answer and then never ends it (seen on a node right after
    # git-annex's gateway, which holds its own connections into the node repositories, read the same key), and
    # git-annex's gateway sometimes stops mid-answer. A stalled answer has no time to report: it is counted, per path
    # and kind, in the report, and the measurement is made again.
    [ "$rc" = 28 ] && [ "$attempt" -lt 3 ] || die "GET via $1: curl exit $rc"
    if [ "$size" = $((GET_MIB * 1024 * 1024)) ]; then
      log "GET via $1: all $size bytes came but the answer did not end within ${GET_MAX_TIME} s; measuring again"
      echo "$1 (every byte came, the answer did not end)" >>"$WORK/get-stalls"
    else
      log "GET via $1: stalled after $size bytes for ${GET_MAX_TIME} s; measuring again"
      echo "$1 (stalled before the last byte)" >>"$WORK/get-stalls"
    fi
  done
  read -r code size SECS <<<"$r"
  [ "$code" = 200 ] && [ "$size" = $((GET_MIB * 1024 * 1024)) ] || die "GET via $1: status $code, $size bytes"
}

# Peak VmRSS of the edge and of git-annex's gateway, sampled every 20 ms while a measurement runs; VmHWM is also
# reset before it (clear_refs 5) and read after, so no peak between samples is missed.
start_sampler() {
  local p
  for p in edge gateway; do echo 5 >"/proc/${PID[$p]}/clear_refs"; done
  : >"$WORK/rss"
  python3 - "$WORK/rss" "${PID[edge]}" "${PID[gateway]}" <<'EOF' &
import os, signal, sys, time
out, pids, peak, stop = sys.argv[1], sys.argv[2:], {}, []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
def rss(pid):
    # 0 once the process is gone (a failed run stops the services while the sampler still runs).
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)
    except FileNotFoundError:
        return 0
while True:
    for p in pids:
        peak[p] = max(peak.get(p, 0), rss(p))
    with open(out + ".tmp", "w") as f:
        f.write(" ".join(str(peak[p]) for p in pids) + "\n")
    os.replace(out + ".tmp", out)
    if stop:
        break
    time.sleep(0.02)
EOF
  SAMPLER=$!
  # The measurement starts once the sampler has taken its first sample (and so handles SIGTERM).
  while [ ! -s "$WORK/rss" ]; do sleep 0.01; done
}
stop_sampler() { kill "$SAMPLER"; wait "$SAMPLER" || true; }

PROCS=(edge gateway node1 node2 node3)
record() { # operation path measure-command...
  local op=$1 p=$2 q before=() after=() rss_edge rss_gw
  shift 2
  for q in "${PROCS[@]}"; do before+=("$(ticks "${PID[$q]}")"); done
  start_sampler
  "$@"
  stop_sampler
  for q in "${PROCS[@]}"; do after+=("$(ticks "${PID[$q]}")"); done
  read -r rss_edge rss_gw <"$WORK/rss"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$op" "$p" "$round" "$SECS" "$rss_edge" "$(proc_kib "${PID[edge]}" VmHWM)" \
    "$rss_gw" "$(proc_kib "${PID[gateway]}" VmHWM)" >>"$RESULTS"
  for q in "${!PROCS[@]}"; do printf '\t%s' $((after[q] - before[q])) >>"$RESULTS"; done
  echo >>"$RESULTS"
  log "round $round $op $p ${SECS}s, edge peak RSS $((rss_edge / 1024)) MiB"
}

for size in small large; do
  for i in 1 2 3; do ! present_on "$i" "${PUT_KEY[$size]}" || die "PUT object already on node$i"; done
done
for i in 1 2 3; do present_on "$i" "$GET_KEY" || die "GET object missing on node$i"; done

# Warm-up, not recorded: the edge's JIT and connection pools, the nodes' and the gateway's first requests.
log "warming up"
round=0
for p in edge gateway limit3 direct; do measure_put "$p" small; remove_everywhere "${PUT_KEY[small]}"; done
# One large store on every node before any is timed: the first GiBs a node writes after start-up cost more (fresh
# page cache and file system allocation), and the first path of round 1 (AnnexEdge) would always pay for them.
measure_put limit3 large; remove_everywhere "${PUT_KEY[large]}"; settle
for p in edge gateway direct; do measure_get "$p"; done
RSS_EDGE_WARM=$(proc_kib "${PID[edge]}" VmRSS | kib_to_mib)

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
log "measuring: $ROUNDS rounds of PUT $PUT_SMALL_MIB and $PUT_LARGE_MIB MiB, GET $GET_MIB MiB"
PUT_PATHS=(edge gateway limit3 direct)
GET_PATHS=(edge gateway direct)
for round in $(seq 1 "$ROUNDS"); do
  for size in small large; do
    s=$(( (round - 1) % ${#PUT_PATHS[@]} ))
    for p in "${PUT_PATHS[@]:s}" "${PUT_PATHS[@]:0:s}"; do
      settle
      record "put-$size" "$p" measure_put "$p" "$size"
      remove_everywhere "${PUT_KEY[$size]}"
    done
  done
  # A GET takes a third of a second, so one per round is at the mercy of a scheduler hiccup: each round measures
  # every path GET_REPEATS times, the order turning one path further each time.
  for repeat in $(seq 1 "$GET_REPEATS"); do
    s=$(( (round + repeat - 2) % ${#GET_PATHS[@]} ))
    for p in "${GET_PATHS[@]:s}" "${GET_PATHS[@]:0:s}"; do
      settle
      record get "$p" measure_get "$p"
    done
  done
done

{
  echo "DATE=$(date -u +%Y-%m-%d)"
  echo "MACHINE=$(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "LOADAVG=$LOADAVG"
  echo "LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "ROUNDS=$ROUNDS"
  echo "PUT_SMALL_MIB=$PUT_SMALL_MIB"
  echo "PUT_LARGE_MIB=$PUT_LARGE_MIB"
  echo "GET_MIB=$GET_MIB"
  echo "COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src || echo '+changes')"
  echo "DOTNET=$(dotnet --version)"
  echo "ANNEX=$(git-annex version --raw)"
  echo "RSS_EDGE_START=$RSS_EDGE_START"
  echo "RSS_EDGE_WARM=$RSS_EDGE_WARM"
  echo "RSS_EDGE_END=$(proc_kib "${PID[edge]}" VmRSS | kib_to_mib)"
  echo "CLK_TCK=$(getconf CLK_TCK)"
  echo "GET_MAX_TIME=$GET_MAX_TIME"
  echo "GET_REPEATS=$GET_REPEATS"
  echo "GET_STALLS=$(sort "$WORK/get-stalls" 2>/dev/null | uniq -c | sed 's/^ *\([0-9]*\) \(.*\)/\2: \1/' | paste -sd';' | sed 's/;/; /g')"
} >"$WORK/meta.env"

mkdir -p "$OUT"
python3 "$ROOT/bench/cluster-report.py" "$RESULTS" "$WORK/meta.env" | tee "$OUT/cluster-latest.md"
cp "$RESULTS" "$OUT/cluster-latest.tsv"
