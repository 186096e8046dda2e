#!/usr/bin/env bash
# Small files as users meet them (issue 17): a real `git annex` client moves N small files, with -J4 and -J16,
# in one run on loopback:
#   - direct to a node (`git annex p2phttp --jobs 16`, one of 3),
#   - through AnnexEdge (Release, Serilog Warning) as the cluster's gateway,
#   - through git-annex's own gateway (`git annex p2phttp --clusterjobs 3 --jobs 16` on a gateway repository made
#     with initcluster/updatecluster, as bench/cluster.sh makes it).
# Operations, each on fresh files: copy to a node, copy to the cluster, get from the cluster (after dropping the local
# copies), drop from the cluster. For each: wall time, and CPU time (utime+stime) of the edge and of git-annex's
# gateway during it, per file. A warm-up set goes through every path and operation first (JIT).
#
# usage: bench/files.sh [--files N] [--warmup N] [--size BYTES] [--jobs "4 16"] [--paths "direct edge gateway"]
#                       [--edge-env "VAR=value ..."] [--edge-dll PATH] [--quick]
#   --quick     smoke run: 100 files, 50 warm-up files, -J4 only
#   --paths     only these paths (without gateway: no git-annex gateway, its slow path is most of a run's time)
#   --edge-env  environment of the edge process only (e.g. "DOTNET_TieredPGO=0"), to compare runtime settings
#   --edge-dll  run this AnnexEdge.dll (e.g. a ReadyToRun publish) instead of building src/AnnexEdge
# Prints a markdown report and writes it to bench/results/files-latest.md (raw figures in files-latest.tsv).
set -euo pipefail

FILES=1000 WARMUP=200 SIZE=8192 JOBS_LIST="4 16" PATHS="direct edge gateway" EDGE_ENV="" EDGE_DLL=""
while [ $# -gt 0 ]; do
  case "$1" in
    --files) FILES=${2:?}; shift 2 ;;
    --warmup) WARMUP=${2:?}; shift 2 ;;
    --size) SIZE=${2:?}; shift 2 ;;
    --jobs) JOBS_LIST=${2:?}; shift 2 ;;
    --paths) PATHS=${2:?}; shift 2 ;;
    --edge-env) EDGE_ENV=${2:?}; shift 2 ;;
    --edge-dll) EDGE_DLL=${2:?}; shift 2 ;;
    --quick) FILES=100 WARMUP=50 JOBS_LIST=4; shift ;;
    *) sed -n '2,17s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/lib.sh"
bench_init files
TICK_MS=$(awk -v t="$(getconf CLK_TCK)" 'BEGIN {print 1000 / t}')
need git-annex "apt-get install git-annex"
need curl "apt-get install curl"
need dotnet "the .NET 10 SDK"
need python3 "apt-get install python3"
declare -A PORT PID NODE_UUID

[ -n "$EDGE_DLL" ] || build_edge
make_cluster_lab
# --jobs 16 so that a -J16 client is not limited by the nodes' workers on any path.
start_cluster_lab 16
PORT[edge]=$(free_port)
# shellcheck disable=SC2086 # EDGE_ENV is a list of VAR=value words
start "$WORK/edge.log" "$WORK" env $EDGE_ENV dotnet "$EDGE_DLL" --config "$WORK/edge.json" --urls "http://127.0.0.1:${PORT[edge]}"
PID[edge]=${PIDS[-1]}

for i in 1 2 3; do
  wait_for "node$i" curl -sf -X POST "http://127.0.0.1:${PORT[node$i]}/git-annex/${NODE_UUID[$i]}/v4/gettimestamp?clientuuid=$CLIENT"
done
wait_for "git-annex's gateway" curl -sf -X POST "http://127.0.0.1:${PORT[gateway]}/git-annex/$CLUSTER_UUID/v4/gettimestamp?clientuuid=$CLIENT"
wait_for "AnnexEdge" curl -sf -X POST "http://127.0.0.1:${PORT[edge]}/git-annex/$CLUSTER_UUID/v4/gettimestamp?clientuuid=$CLIENT"

# One client clone per path. Through a gateway the clone's origin is the gateway repository (its git-annex branch
# names the cluster and its nodes: origin-mycluster, origin-node1); direct, origin is node1 itself.
client() { # path annexUrl clone-source
  local dir=$WORK/client-$1
  git clone -q "$3" "$dir"
  (
    cd "$dir"
    git annex init -q "client-$1"
    git config annex.security.allowed-ip-addresses all
    git config remote.origin.annexUrl "$2"
    git annex sync -q --no-content --no-push origin >/dev/null 2>&1 || true
  )
}
client direct "annex+http://127.0.0.1:${PORT[node1]}/git-annex/" "$WORK/node1"
client edge "annex+http://127.0.0.1:${PORT[edge]}/git-annex/" "$WORK/gateway"
client gateway "annex+http://127.0.0.1:${PORT[gateway]}/git-annex/" "$WORK/gateway"

# A set of fresh random files in a client, annexed and committed: prints nothing, the set is the directory.
make_set() { # path name count
  local dir=$WORK/client-$1
  python3 - "$dir/$2" "$3" "$SIZE" <<'PY'
import os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d)
for i in range(n):
    with open(os.path.join(d, f"f{i:05}.bin"), "wb") as f:
        f.write(os.urandom(size))
PY
  (cd "$dir" && git annex add -q "$2" >/dev/null && git commit -q -m "$2")
}

objects() { find "$WORK/node$1/.git/annex/objects" -type f 2>/dev/null | wc -l; }
# The CPU of the gateway on a path; on the direct path, the edge's while it is idle.
cpu() { if [ "$1" = gateway ]; then ticks "${PID[gateway]}"; else ticks "${PID[edge]}"; fi; }

# Runs one operation on a set and checks its effect in the node repositories themselves; prints "seconds cpu-ticks".
run_op() { # path op set jobs
  local path=$1 op=$2 set=$3 jobs=$4 dir=$WORK/client-$1 before=() after i t0 t1 c0 c1 remote
  for i in 1 2 3; do before[$i]=$(objects "$i"); done
  case "$op" in node-copy) remote=origin; [ "$path" = direct ] || remote=origin-node1 ;; *) remote=origin-mycluster ;; esac
  log "$op via $path"
  c0=$(cpu "$path"); t0=$(date +%s.%N)
  case "$op" in
    node-copy | cluster-copy) (cd "$dir" && git annex copy -q -J"$jobs" --to "$remote" "$set") >"$WORK/op.log" 2>&1 ;;
    cluster-get) (cd "$dir" && git annex get -q -J"$jobs" --from "$remote" "$set") >"$WORK/op.log" 2>&1 ;;
    cluster-drop) (cd "$dir" && git annex drop -q -J"$jobs" --from "$remote" "$set") >"$WORK/op.log" 2>&1 ;;
  esac || die "$op via $path -J$jobs: git annex failed: $(tail -5 "$WORK/op.log")"
  t1=$(date +%s.%N); c1=$(cpu "$path")
  [ ! -s "$WORK/op.log" ] || die "$op via $path -J$jobs: git annex said: $(head -5 "$WORK/op.log")"
  case "$op" in
    node-copy)
      after=$(objects 1)
      [ $((after - before[1])) -eq "$FILES_NOW" ] || die "$op via $path: node1 gained $((after - before[1])) objects, not $FILES_NOW" ;;
    cluster-copy)
      for i in 1 2 3; do
        after=$(objects "$i")
        [ $((after - before[i])) -eq "$FILES_NOW" ] || die "$op via $path: node$i gained $((after - before[i])) objects, not $FILES_NOW"
      done ;;
    cluster-get)
      [ "$(cd "$dir" && git annex find --in here "$set" | wc -l)" -eq "$FILES_NOW" ] || die "$op via $path: not every file arrived" ;;
    cluster-drop)
      for i in 1 2 3; do
        after=$(objects "$i")
        [ $((before[i] - after)) -eq "$FILES_NOW" ] || die "$op via $path: node$i lost $((before[i] - after)) objects, not $FILES_NOW"
      done ;;
  esac
  awk -v a="$t0" -v b="$t1" -v c="$((c1 - c0))" 'BEGIN {printf "%.3f %d\n", b - a, c}'
}

# Every operation of a path on one set: node copy on its own set, then copy/get/drop of the cluster on another.
run_path() { # path jobs tag count -> appends "tag path jobs op secs ticks count" to the tsv
  local path=$1 jobs=$2 tag=$3 count=$4 op r
  FILES_NOW=$count
  make_set "$path" "$tag-node-J$jobs" "$count"
  r=$(run_op "$path" node-copy "$tag-node-J$jobs" "$jobs"); echo "$tag $path $jobs node-copy $r $count" >>"$TSV"
  [ "$path" != direct ] || return 0
  make_set "$path" "$tag-cluster-J$jobs" "$count"
  r=$(run_op "$path" cluster-copy "$tag-cluster-J$jobs" "$jobs"); echo "$tag $path $jobs cluster-copy $r $count" >>"$TSV"
  (cd "$WORK/client-$path" && git annex drop -q --force "$tag-cluster-J$jobs")
  for op in cluster-get cluster-drop; do
    r=$(run_op "$path" "$op" "$tag-cluster-J$jobs" "$jobs"); echo "$tag $path $jobs $op $r $count" >>"$TSV"
  done
}

mkdir -p "$OUT"
TSV="$WORK/files.tsv"
: >"$TSV"
log "warm-up: $WARMUP files of $SIZE bytes through every path and operation"
for path in $PATHS; do run_path "$path" 4 warmup "$WARMUP"; done
RSS_EDGE=$(proc_kib "${PID[edge]}" VmRSS | kib_to_mib)
for jobs in $JOBS_LIST; do
  # Each -J level starts one path further, so no path always runs right after the same other.
  order=(direct edge gateway)
  [ "$jobs" = 4 ] || order=(edge gateway direct)
  for path in "${order[@]}"; do
    [[ " $PATHS " == *" $path "* ]] || continue
    log "-J$jobs via $path: $FILES files of $SIZE bytes"
    run_path "$path" "$jobs" run "$FILES"
  done
done
RSS_EDGE_END=$(proc_kib "${PID[edge]}" VmRSS | kib_to_mib)
grep -v '^warmup ' "$TSV" >"$OUT/files-latest.tsv"

python3 - "$TSV" "$TICK_MS" "$FILES" "$SIZE" "$RSS_EDGE" "$RSS_EDGE_END" >"$OUT/files-latest.md" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.startswith("run ")]
tick_ms, files, size, rss0, rss1 = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
fig = {}
for _, path, jobs, op, secs, ticks, count in rows:
    fig[(path, jobs, op)] = (float(secs), int(ticks) * tick_ms / int(count))
print(f"# Small files: {files} files of {size} bytes, real git-annex client\n")
print("Wall time in seconds; CPU = milliseconds of CPU time per file of the gateway on that path (AnnexEdge, or")
print("git-annex's gateway); a direct copy has no gateway. Ratios: direct/edge (>= 1 means the edge is at least as")
print("fast as direct) and gateway/edge (how many times faster than git-annex's gateway).\n")
print("| -J | operation | direct s | edge s | git-annex gateway s | direct/edge | gateway/edge | edge CPU ms/file | gateway CPU ms/file |")
print("|---|---|---|---|---|---|---|---|---|")
for jobs in sorted({r[2] for r in rows}, key=int):
    for op in ["node-copy", "cluster-copy", "cluster-get", "cluster-drop"]:
        d, e, g = fig.get(("direct", jobs, op)), fig.get(("edge", jobs, op)), fig.get(("gateway", jobs, op))
        if not e:
            continue
        cell = lambda x, i, f="%.2f": (f % x[i]) if x else "-"
        ratio = lambda a: ("%.2f" % (a[0] / e[0])) if a else "-"
        print(f"| {jobs} | {op} | {cell(d,0)} | {cell(e,0)} | {cell(g,0)} | {ratio(d)} | {ratio(g)} | {e[1]:.2f} | {cell(g,1)} |")
print()
idle = [(float(secs), int(ticks) * tick_ms) for _, path, jobs, op, secs, ticks, count in rows if path == "direct"]
if idle:
    busy = sum(t for _, t in idle) / sum(s for s, _ in idle) / 10
    print(f"While the client copied to the node directly, the edge (idle but for its health probes) used {busy:.2f} % of a core.")
print(f"Edge RSS after warm-up {rss0} MiB, at the end {rss1} MiB.\n")
targets = []
for jobs in sorted({r[2] for r in rows}, key=int):
    for op, limit in [("node-copy", 1.5), ("cluster-get", 1.5), ("cluster-copy", 3.0)]:
        if ("edge", jobs, op) in fig:
            cpu = fig[("edge", jobs, op)][1]
            targets.append((f"-J{jobs} {op}: edge CPU per file <= {limit} ms", f"{cpu:.2f} ms", cpu <= limit))
    if ("direct", jobs, "node-copy") in fig:
        d, e = fig[("direct", jobs, "node-copy")][0], fig[("edge", jobs, "node-copy")][0]
        targets.append((f"-J{jobs} node-copy: wall time <= direct", f"{e:.2f} s vs {d:.2f} s", e <= d))
    for op in ["cluster-copy", "cluster-get", "cluster-drop"]:
        if ("gateway", jobs, op) in fig:
            g, e = fig[("gateway", jobs, op)][0], fig[("edge", jobs, op)][0]
            targets.append((f"-J{jobs} {op}: >= 2x faster than git-annex's gateway", f"{g / e:.2f}x", g / e >= 2))
print("| target | measured | met |")
print("|---|---|---|")
for t, m, ok in targets:
    print(f"| {t} | {m} | {'met' if ok else 'not met'} |")
PY
cat "$OUT/files-latest.md"
