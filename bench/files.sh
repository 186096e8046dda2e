#!/usr/bin/env bash
# Small files as users meet them (issue 17): a real `git annex` client moves N small files, with -J4 and -J16,
# in one run on loopback:
#   - direct to a node (`git annex p2phttp --jobs 16`, one of 3),
#   - through AnnexEdge (Release, Serilog Warning) as the cluster's gateway,
#   - through AnnexEdge over HTTPS (edge-https): the same edge process, the client talking TLS to it with a
#     self-signed ECDSA P-256 certificate (make_certificate), the edge plain HTTP to the nodes. git-annex's client
#     trusts the system store only: SYSTEM_CERTIFICATE_PATH (read by its x509-system library instead of
#     /etc/ssl/certs) names the certificate; nothing on the machine is changed,
#   - through git-annex's own gateway (`git annex p2phttp --clusterjobs 3 --jobs 16` on a gateway repository made
#     with initcluster/updatecluster, as bench/cluster.sh makes it),
#   - through bench/PlainProxy (plain): YARP alone with one route to node1, the framework's own cost per file under
#     the same client; node copy and get only (it knows no cluster).
# Operations, each on fresh files: copy to a node and get them back from it (not through git-annex's gateway, below),
# copy to the cluster, get from the cluster (after dropping the local copies), drop from the cluster. For each: wall
# time, and CPU time (utime+stime) of the edge and of git-annex's gateway during it, per file, and the client
# connections (and TLS handshakes) the edge accepted during it. A warm-up set goes through every path and operation
# first (JIT). With --rounds N every path runs N times per -J level (fresh sets, each round starting one path further)
# and the report gives medians (min–max).
#
# usage: bench/files.sh [--files N] [--warmup N] [--size BYTES] [--jobs "4 16"] [--rounds N]
#                       [--paths "direct edge edge-https gateway plain"] [--edge-env "VAR=value ..."] [--edge-dll PATH]
#                       [--op-timeout SECONDS] [--quick]
#   --quick     smoke run: 100 files, 50 warm-up files, -J4 only
#   --paths     only these paths (without gateway: no git-annex gateway, its slow path is most of a run's time)
#   --edge-env  environment of the edge process only (e.g. "DOTNET_TieredPGO=0"), to compare runtime settings
#   --edge-dll  run this AnnexEdge.dll (e.g. a ReadyToRun publish) instead of building src/AnnexEdge
#   --op-timeout  deadline of one operation (default 900 s), so that a git-annex that stops answering ends the run
# Prints a markdown report and writes it to bench/results/files-latest.md (raw figures in files-latest.tsv).
set -euo pipefail

FILES=1000 WARMUP=200 SIZE=8192 JOBS_LIST="4 16" PATHS="direct edge edge-https gateway plain" EDGE_ENV="" EDGE_DLL="" ROUNDS=1 OP_TIMEOUT=900
while [ $# -gt 0 ]; do
  case "$1" in
    --files) FILES=${2:?}; shift 2 ;;
    --warmup) WARMUP=${2:?}; shift 2 ;;
    --size) SIZE=${2:?}; shift 2 ;;
    --jobs) JOBS_LIST=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --paths) PATHS=${2:?}; shift 2 ;;
    --edge-env) EDGE_ENV=${2:?}; shift 2 ;;
    --edge-dll) EDGE_DLL=${2:?}; shift 2 ;;
    --op-timeout) OP_TIMEOUT=${2:?}; shift 2 ;;
    --quick) FILES=100 WARMUP=50 JOBS_LIST=4; shift ;;
    *) sed -n '2,29s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/lib.sh"
bench_init files
TICK_MS=$(awk -v t="$(getconf CLK_TCK)" 'BEGIN {print 1000 / t}')
need git-annex "apt-get install git-annex"
need curl "apt-get install curl"
need dotnet "the .NET 10 SDK"
need python3 "apt-get install python3"
need openssl "apt-get install openssl"
declare -A PORT PID NODE_UUID

[ -n "$EDGE_DLL" ] || build_edge
if [[ " $PATHS " == *" plain "* ]]; then
  log "building bench/PlainProxy (Release)"
  dotnet build -c Release --nologo -v q "$ROOT/bench/PlainProxy" >"$WORK/build-plain.log" 2>&1 || { cat "$WORK/build-plain.log"; die "build of PlainProxy"; }
fi
make_certificate
# Only the edge-https client talks TLS; SYSTEM_CERTIFICATE_PATH replaces the system store for git-annex alone.
export SYSTEM_CERTIFICATE_PATH="$WORK/tls/cert.pem"
make_cluster_lab
# --jobs 16 so that a -J16 client is not limited by the nodes' workers on any path.
start_cluster_lab 16
PORT[edge]=$(free_port)
PORT[edge-https]=$(free_port)
# One edge process serves both edge paths (plain HTTP and HTTPS with the certificate files, as run.sh's edge does).
# Kestrel's connection and HTTPS loggers at Debug write one line per accepted connection and per TLS handshake: the
# count of new client connections per operation (whether git-annex's client keeps its connections alive).
# shellcheck disable=SC2086 # EDGE_ENV is a list of VAR=value words
start "$WORK/edge.log" "$WORK" env $EDGE_ENV dotnet "$EDGE_DLL" --config "$WORK/edge.json" \
  --urls "http://127.0.0.1:${PORT[edge]};https://127.0.0.1:${PORT[edge-https]}" \
  --Kestrel:Certificates:Default:Path="$WORK/tls/cert.pem" --Kestrel:Certificates:Default:KeyPath="$WORK/tls/key.pem" \
  --Serilog:MinimumLevel:Override:Microsoft.AspNetCore.Server.Kestrel.Connections=Debug \
  --Serilog:MinimumLevel:Override:Microsoft.AspNetCore.Server.Kestrel.Https=Debug
PID[edge]=${PIDS[-1]}
PID[edge-https]=${PID[edge]}
if [[ " $PATHS " == *" plain "* ]]; then
  PORT[plain]=$(free_port)
  start "$WORK/plain.log" "$WORK" env BACKEND="http://127.0.0.1:${PORT[node1]}" \
    dotnet "$ROOT/bench/PlainProxy/bin/Release/net10.0/PlainProxy.dll" --urls "http://127.0.0.1:${PORT[plain]}"
  PID[plain]=${PIDS[-1]}
  wait_for "PlainProxy" curl -sf -X POST "http://127.0.0.1:${PORT[plain]}/git-annex/${NODE_UUID[1]}/v4/gettimestamp?clientuuid=$CLIENT"
fi

for i in 1 2 3; do
  wait_for "node$i" curl -sf -X POST "http://127.0.0.1:${PORT[node$i]}/git-annex/${NODE_UUID[$i]}/v4/gettimestamp?clientuuid=$CLIENT"
done
wait_for "git-annex's gateway" curl -sf -X POST "http://127.0.0.1:${PORT[gateway]}/git-annex/$CLUSTER_UUID/v4/gettimestamp?clientuuid=$CLIENT"
wait_for "AnnexEdge" curl -sf -X POST "http://127.0.0.1:${PORT[edge]}/git-annex/$CLUSTER_UUID/v4/gettimestamp?clientuuid=$CLIENT"
wait_for "AnnexEdge over HTTPS" curl -sf -X POST "https://127.0.0.1:${PORT[edge-https]}/git-annex/$CLUSTER_UUID/v4/gettimestamp?clientuuid=$CLIENT"

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
client edge-https "annex+https://127.0.0.1:${PORT[edge-https]}/git-annex/" "$WORK/gateway"
client gateway "annex+http://127.0.0.1:${PORT[gateway]}/git-annex/" "$WORK/gateway"
[ -z "${PORT[plain]:-}" ] || client plain "annex+http://127.0.0.1:${PORT[plain]}/git-annex/" "$WORK/node1"

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
# The CPU of the gateway on a path (git-annex's, PlainProxy's); on the direct path, the edge's while it is idle.
cpu() { case "$1" in gateway | plain) ticks "${PID[$1]}" ;; *) ticks "${PID[edge]}" ;; esac; }
# Client connections the edge accepted, and TLS handshakes it completed, so far: "connections handshakes".
edge_connections() {
  echo "$(grep -c '"ConnectionStart"' "$WORK/edge.log") $(grep -c '"HttpsConnectionEstablished"' "$WORK/edge.log")"
}

# Runs one operation on a set and checks its effect in the node repositories themselves; prints
# "seconds cpu-ticks new-edge-connections tls-handshakes".
run_op() { # path op set jobs
  local path=$1 op=$2 set=$3 jobs=$4 dir=$WORK/client-$1 before=() after i t0 t1 c0 c1 k0 k1 remote rc=0
  for i in 1 2 3; do before[$i]=$(objects "$i"); done
  case "$op" in node-copy | node-get) remote=origin; [ "$path" = direct ] || [ "$path" = plain ] || remote=origin-node1 ;; *) remote=origin-mycluster ;; esac
  log "$op via $path"
  k0=$(edge_connections); c0=$(cpu "$path"); t0=$(date +%s.%N)
  case "$op" in
    node-copy | cluster-copy) (cd "$dir" && timeout "$OP_TIMEOUT" git annex copy -q -J"$jobs" --to "$remote" "$set") ;;
    node-get | cluster-get) (cd "$dir" && timeout "$OP_TIMEOUT" git annex get -q -J"$jobs" --from "$remote" "$set") ;;
    cluster-drop) (cd "$dir" && timeout "$OP_TIMEOUT" git annex drop -q -J"$jobs" --from "$remote" "$set") ;;
  esac >"$WORK/op.log" 2>&1 || rc=$?
  [ "$rc" -ne 124 ] || die "$op via $path -J$jobs: no end after $OP_TIMEOUT s (--op-timeout), stopped: $(tail -5 "$WORK/op.log")"
  [ "$rc" -eq 0 ] || die "$op via $path -J$jobs: git annex failed: $(tail -5 "$WORK/op.log")"
  t1=$(date +%s.%N); c1=$(cpu "$path"); k1=$(edge_connections)
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
    node-get | cluster-get)
      [ "$(cd "$dir" && git annex find --in here "$set" | wc -l)" -eq "$FILES_NOW" ] || die "$op via $path: not every file arrived" ;;
    cluster-drop)
      for i in 1 2 3; do
        after=$(objects "$i")
        [ $((before[i] - after)) -eq "$FILES_NOW" ] || die "$op via $path: node$i lost $((before[i] - after)) objects, not $FILES_NOW"
      done ;;
  esac
  awk -v a="$t0" -v b="$t1" -v c="$((c1 - c0))" -v k0="$k0" -v k1="$k1" \
    'BEGIN {split(k0, x, " "); split(k1, y, " "); printf "%.3f %d %d %d\n", b - a, c, y[1] - x[1], y[2] - x[2]}'
}

# Every operation of a path on one set: node copy on its own set, then copy/get/drop of the cluster on another.
run_path() { # path jobs tag count round -> appends "tag path jobs op secs ticks count connections handshakes round"
  local path=$1 jobs=$2 tag=$3 count=$4 round=$5 op r set
  FILES_NOW=$count
  # No node copy through git-annex's gateway: the issue compares it on cluster operations only, and a 500-file -J4
  # copy through it to one node never ended in either of two runs (session 21; its log: "unable to take transfer lock",
  # "p2pstdio: 1 failed", the client left waiting on an idle connection).
  if [ "$path" != gateway ]; then
    set=$tag-r$round-node-J$jobs
    make_set "$path" "$set" "$count"
    r=$(run_op "$path" node-copy "$set" "$jobs"); echo "$tag $path $jobs node-copy ${r% * *} $count ${r#* * } $round" >>"$TSV"
    # The same files back from the node: direct, this is the floor of any get through a gateway.
    (cd "$WORK/client-$path" && git annex drop -q --force "$set")
    r=$(run_op "$path" node-get "$set" "$jobs"); echo "$tag $path $jobs node-get ${r% * *} $count ${r#* * } $round" >>"$TSV"
  fi
  [ "$path" != direct ] && [ "$path" != plain ] || return 0
  set=$tag-r$round-cluster-J$jobs
  make_set "$path" "$set" "$count"
  r=$(run_op "$path" cluster-copy "$set" "$jobs"); echo "$tag $path $jobs cluster-copy ${r% * *} $count ${r#* * } $round" >>"$TSV"
  (cd "$WORK/client-$path" && git annex drop -q --force "$set")
  for op in cluster-get cluster-drop; do
    r=$(run_op "$path" "$op" "$set" "$jobs"); echo "$tag $path $jobs $op ${r% * *} $count ${r#* * } $round" >>"$TSV"
  done
}

mkdir -p "$OUT"
TSV="$WORK/files.tsv"
: >"$TSV"
log "warm-up: $WARMUP files of $SIZE bytes through every path and operation"
for path in $PATHS; do run_path "$path" 4 warmup "$WARMUP" 0; done
RSS_EDGE=$(proc_kib "${PID[edge]}" VmRSS | kib_to_mib)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
ALL_PATHS=(direct edge edge-https gateway plain)
k=0
for round in $(seq 1 "$ROUNDS"); do
  for jobs in $JOBS_LIST; do
    # Each -J level and round starts one path further, so no path always runs right after the same other.
    shift_by=$((k % ${#ALL_PATHS[@]})); k=$((k + 1))
    for path in "${ALL_PATHS[@]:shift_by}" "${ALL_PATHS[@]:0:shift_by}"; do
      [[ " $PATHS " == *" $path "* ]] || continue
      log "round $round, -J$jobs via $path: $FILES files of $SIZE bytes"
      run_path "$path" "$jobs" run "$FILES" "$round"
    done
  done
done
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)
RSS_EDGE_END=$(proc_kib "${PID[edge]}" VmRSS | kib_to_mib)
grep -v '^warmup ' "$TSV" >"$OUT/files-latest.tsv"

python3 - "$TSV" "$TICK_MS" "$FILES" "$SIZE" "$RSS_EDGE" "$RSS_EDGE_END" "$ROUNDS" "$LOADAVG" "$LOADAVG_END" \
  >"$OUT/files-latest.md" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.startswith("run ")]
tick_ms, files, size, rss0, rss1 = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
rounds, load0, load1 = int(sys.argv[7]), sys.argv[8], sys.argv[9]
# (path, jobs, op) -> [(secs, cpu ms per file, new client connections, TLS handshakes)], one per round
runs = {}
for _, path, jobs, op, secs, ticks, count, conns, tls, _ in rows:
    runs.setdefault((path, jobs, op), []).append((float(secs), int(ticks) * tick_ms / int(count), int(conns), int(tls)))
fig = {k: tuple(statistics.median(v[i] for v in vs) for i in range(4)) for k, vs in runs.items()}
def spread(key, i, f):
    vs = [v[i] for v in runs[key]]
    return f % statistics.median(vs) if len(vs) == 1 else f"{f % statistics.median(vs)} ({f % min(vs)}–{f % max(vs)})"
print(f"# Small files: {files} files of {size} bytes, real git-annex client\n")
print(f"{rounds} round(s){', medians (min–max) where more than one' if rounds > 1 else ''}. Load average {load0} at "
      f"the start of the measured rounds, {load1} at the end.\n")
print("Wall time in seconds; CPU = milliseconds of CPU time per file of the gateway on that path (AnnexEdge, or")
print("git-annex's gateway); a direct copy has no gateway. Ratios: direct/edge (>= 1 means the edge is at least as")
print("fast as direct) and gateway/edge (how many times faster than git-annex's gateway).\n")
print("| -J | operation | direct s | edge s | git-annex gateway s | direct/edge | gateway/edge | edge CPU ms/file | gateway CPU ms/file |")
print("|---|---|---|---|---|---|---|---|---|")
for jobs in sorted({r[2] for r in rows}, key=int):
    for op in ["node-copy", "node-get", "cluster-copy", "cluster-get", "cluster-drop"]:
        d, e, g = fig.get(("direct", jobs, op)), fig.get(("edge", jobs, op)), fig.get(("gateway", jobs, op))
        if not e:
            continue
        cell = lambda x, i, f="%.2f": (f % x[i]) if x else "-"
        ratio = lambda a: ("%.2f" % (a[0] / e[0])) if a else "-"
        print(f"| {jobs} | {op} | {cell(d,0)} | {cell(e,0)} | {cell(g,0)} | {ratio(d)} | {ratio(g)} | {e[1]:.2f} | {cell(g,1)} |")
print()
idle = [(float(r[4]), int(r[5]) * tick_ms) for r in rows if r[1] == "direct"]
if idle:
    busy = sum(t for _, t in idle) / sum(s for s, _ in idle) / 10
    print(f"While the client copied to the node directly, the edge (idle but for its health probes) used {busy:.2f} % of a core.")
print(f"Edge RSS after warm-up {rss0} MiB, at the end {rss1} MiB.\n")
if any(k[0] == "plain" for k in fig):
    print("The framework's floor: a node copy and get through bench/PlainProxy (YARP alone, one route to node1, no logging),")
    print("its CPU per file under the same client, against the edge's; plain/edge < 1 means YARP alone spent less.\n")
    print("| -J | operation | edge s | plain s | edge CPU ms/file | plain CPU ms/file | plain/edge CPU |")
    print("|---|---|---|---|---|---|---|")
    for jobs in sorted({r[2] for r in rows}, key=int):
        for op in ["node-copy", "node-get"]:
            e, p = ("edge", jobs, op), ("plain", jobs, op)
            if e in fig and p in fig:
                print(f"| {jobs} | {op} | {spread(e, 0, '%.2f')} | {spread(p, 0, '%.2f')} | {spread(e, 1, '%.2f')} | "
                      f"{spread(p, 1, '%.2f')} | {fig[p][1] / fig[e][1]:.2f} |")
    print()
targets = []
for jobs in sorted({r[2] for r in rows}, key=int):
    for op, limit in [("node-copy", 1.5), ("cluster-get", 1.5), ("cluster-copy", 3.0)]:
        if ("edge", jobs, op) in fig:
            cpu = fig[("edge", jobs, op)][1]
            targets.append((f"-J{jobs} {op}: edge CPU per file <= {limit} ms", f"{cpu:.2f} ms", cpu <= limit))
    for op in ["node-copy", "node-get"]:
        if ("direct", jobs, op) in fig and ("edge", jobs, op) in fig:
            d, e = fig[("direct", jobs, op)][0], fig[("edge", jobs, op)][0]
            targets.append((f"-J{jobs} {op}: wall time <= direct", f"{e:.2f} s vs {d:.2f} s", e <= d))
    for op in ["cluster-copy", "cluster-get", "cluster-drop"]:
        if ("gateway", jobs, op) in fig:
            g, e = fig[("gateway", jobs, op)][0], fig[("edge", jobs, op)][0]
            targets.append((f"-J{jobs} {op}: >= 2x faster than git-annex's gateway", f"{g / e:.2f}x", g / e >= 2))
print("| target | measured | met |")
print("|---|---|---|")
for t, m, ok in targets:
    print(f"| {t} | {m} | {'met' if ok else 'not met'} |")
if any(k[0] == "edge-https" for k in fig):
    print("\n## The client over HTTPS (edge-https) against plain HTTP (edge), same edge process\n")
    print("Wall time in seconds and edge CPU in ms per file; HTTPS/HTTP > 1 means HTTPS took longer or more CPU.")
    print("Connections: new client connections the edge accepted during the operation, median (over HTTPS: / TLS")
    print("handshakes).\n")
    print("| -J | operation | edge s | edge-https s | HTTPS/HTTP time | edge CPU ms/file | edge-https CPU ms/file | HTTPS/HTTP CPU | connections HTTP | connections / handshakes HTTPS |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for jobs in sorted({r[2] for r in rows}, key=int):
        for op in ["node-copy", "node-get", "cluster-copy", "cluster-get", "cluster-drop"]:
            e, h = ("edge", jobs, op), ("edge-https", jobs, op)
            if e not in fig or h not in fig:
                continue
            print(f"| {jobs} | {op} | {spread(e, 0, '%.2f')} | {spread(h, 0, '%.2f')} | {fig[h][0] / fig[e][0]:.2f} | "
                  f"{spread(e, 1, '%.2f')} | {spread(h, 1, '%.2f')} | {fig[h][1] / fig[e][1]:.2f} | "
                  f"{fig[e][2]:.0f} | {fig[h][2]:.0f} / {fig[h][3]:.0f} |")
PY
cat "$OUT/files-latest.md"
