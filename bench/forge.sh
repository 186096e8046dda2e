#!/usr/bin/env bash
# Scale of a forge (issue 14): AnnexEdge serving a directory of N repositories (`AnnexEdge:Directories`, external
# backends). The repositories are made cheaply (a `.git/config` with an annex.uuid and a HEAD each, which is all the
# edge's scan reads); the backend is bench/fixed-backend.py, which answers any repository's checkpresent and
# gettimestamp at once and alike, so what is measured is the edge (a real `git annex p2phttp --directory` over 10,000
# repositories would measure git-annex). The edge is built in Release and logs at Warning. Measured:
#   1. with the default settings (active health checks on): time from the edge's start to the first answer for the
#      last repository (by name), RSS after start and after the idle window, CPU while idle (periodic rescans every
#      5 s and health probes), and the time from creating one more repository to its first answer;
#   2. with active health checks off, an edge over 10 repositories and one over N side by side: the same figures
#      (idle CPU is then the rescans alone), and routing cost: checkpresent to one repository with the closed-loop
#      client bench/AnnexEdge.Bench at each concurrency, in rounds alternating the two edges: edge CPU per request
#      (also less the edge's idle CPU rate, i.e. its rescans) and wall time per request, and their ratio N/10.
# Next to each wall time, the edge's CPU time (utime+stime): on a shared machine the steadier figure.
#
# usage: bench/forge.sh [--repos N] [--rounds N] [--seconds S] [--idle S] [--concurrency "1 8"] [--edge-env "VAR=value ..."]
#                       [--edge-dll PATH] [--quick]
#   --repos        repositories in the large directory (default 10000)
#   --rounds       routing rounds (default 3; after --quick, it overrides its 1)
#   --seconds      length of one routing measurement (default 5)
#   --idle         idle window for the CPU of rescans and probes (default 30)
#   --quick        smoke run: 1000 repositories, 1 round, 2 s per measurement, 10 s idle
#   --edge-env     environment of the edge processes only (e.g. "DOTNET_gcServer=0"), to compare runtime settings
#   --edge-dll     run this AnnexEdge.dll instead of building src/AnnexEdge
# Prints a markdown report and writes it to bench/results/forge-latest.md (raw figures in forge-latest.tsv).
set -euo pipefail

REPOS=10000 SMALL=10 ROUNDS=3 SECS=5 IDLE=30 CONCURRENCY="1 8" EDGE_ENV="" EDGE_DLL="" EDGE_LABEL=""
while [ $# -gt 0 ]; do
  case "$1" in
    --repos) REPOS=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --seconds) SECS=${2:?}; shift 2 ;;
    --idle) IDLE=${2:?}; shift 2 ;;
    --concurrency) CONCURRENCY=${2:?}; shift 2 ;;
    --edge-env) EDGE_ENV=${2:?}; shift 2 ;;
    --edge-dll) EDGE_DLL=$(realpath "${2:?}") EDGE_LABEL=$EDGE_DLL; shift 2 ;;
    --quick) REPOS=1000 ROUNDS=1 SECS=2 IDLE=10; shift ;;
    *) sed -n '2,25s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/lib.sh"
bench_init forge
TICK_MS=$(awk -v t="$(getconf CLK_TCK)" 'BEGIN {print 1000 / t}')
need curl "apt-get install curl"
need dotnet "the .NET 10 SDK"
need python3 "apt-get install python3"
declare -A PORT PID DIR LAST

[ -n "$EDGE_DLL" ] || build_edge
build_loadgen
KEY=SHA256E-s0--e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# Makes repositories NAME (a .git/config with a fresh annex.uuid, and a HEAD) in a directory; prints the UUID of the
# last one. Names are repo00000, repo00001, ... so the last made is also the last in the edge's (ordinal) order.
make_repos() { # dir count [name]
  python3 - "$@" <<'PY'
import os, sys, uuid
d, n = sys.argv[1], int(sys.argv[2])
width = max(5, len(str(n - 1)))
names = [sys.argv[3]] if len(sys.argv) > 3 else [f"repo{i:0{width}}" for i in range(n)]
for name in names:
    git = os.path.join(d, name, ".git")
    os.makedirs(git)
    u = str(uuid.uuid4())
    with open(os.path.join(git, "config"), "w") as f:
        f.write(f"[core]\n\trepositoryformatversion = 0\n\tbare = false\n[annex]\n\tuuid = {u}\n\tversion = 10\n")
    with open(os.path.join(git, "HEAD"), "w") as f:
        f.write("ref: refs/heads/main\n")
print(u)
PY
}

url() { echo "http://127.0.0.1:${PORT[$1]}/git-annex/$2/v4/checkpresent?key=$KEY&clientuuid=$CLIENT"; }
# Polls checkpresent of a repository until it answers; prints the seconds since T0 (a `date +%s.%N`). Called in $(),
# so it fails rather than dies (die would end only the subshell).
answered_after() { # edge uuid t0
  local u
  u=$(url "$1" "$2")
  while awk -v a="$3" -v b="$(date +%s.%N)" 'BEGIN {exit !(b - a < 60)}'; do
    if curl -sf -X POST "$u" 2>/dev/null | grep -q '"present"'; then
      awk -v a="$3" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f\n", b - a}'
      return 0
    fi
    kill -0 "${PID[$1]}" 2>/dev/null || { log "$1: the edge has exited"; return 1; }
    sleep 0.05
  done
  log "$1: repository $2 did not answer within 60 s"
  return 1
}

start_edge() { # name dir health-checks -> appends "name start s", "name rss-start MiB"
  local name=$1 t0 secs
  PORT[$name]=$(free_port)
  cat >"$WORK/$name.json" <<JSON
{ "AnnexEdge": {
    "Repositories": [],
    "Directories": [ { "Path": "$2", "Backends": [ "http://127.0.0.1:${PORT[backend]}" ] } ],
    "Anonymous": { "*": "full" },
    "Limits": { "RequestsPerSecondPerIp": 0 },
    "Locking": { "TokenKey": "$(head -c 32 /dev/urandom | base64)" },
    "HealthChecks": { "Enabled": $3 } },
  "Serilog": { "MinimumLevel": { "Default": "Warning" } } }
JSON
  log "starting edge $name over $(find "$2" -mindepth 1 -maxdepth 1 | wc -l) repositories (health checks $3)"
  settle
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086 # EDGE_ENV is a list of VAR=value words
  start "$WORK/$name.log" "$WORK" env $EDGE_ENV dotnet "$EDGE_DLL" --config "$WORK/$name.json" --urls "http://127.0.0.1:${PORT[$name]}"
  PID[$name]=${PIDS[-1]}
  secs=$(answered_after "$name" "${LAST[$2]}" "$t0") || die "edge $name did not start"
  echo "$name start $secs" >>"$TSV"
  # On a loaded machine wall time is mostly waiting for a core; the edge's own CPU to get there is steadier.
  echo "$name start-cpu $(awk -v t="$(ticks "${PID[$name]}")" -v ms="$TICK_MS" 'BEGIN {printf "%.0f", t * ms}')" >>"$TSV"
  echo "$name rss-start $(proc_kib "${PID[$name]}" VmRSS | kib_to_mib)" >>"$TSV"
}

stop_edge() { # name
  kill -- "-${PID[$1]}" 2>/dev/null || true
  wait "${PID[$1]}" 2>/dev/null || true
}

# CPU of the edges over the idle window, and the requests the backend answered meanwhile (health probes).
idle() { # names... -> appends "name idle-ms ms", "name idle-probes n/s", "name rss-idle MiB"
  local name c0=() c1=() p0 p1 i=0
  log "idle for $IDLE s: $*"
  for name in "$@"; do c0[i]=$(ticks "${PID[$name]}"); i=$((i + 1)); done
  p0=$(curl -sf "http://127.0.0.1:${PORT[backend]}/count")
  sleep "$IDLE"
  p1=$(curl -sf "http://127.0.0.1:${PORT[backend]}/count")
  i=0
  for name in "$@"; do
    c1[i]=$(ticks "${PID[$name]}")
    echo "$name idle-ms $(awk -v t="$((c1[i] - c0[i]))" -v ms="$TICK_MS" 'BEGIN {printf "%.0f", t * ms}')" >>"$TSV"
    echo "$name rss-idle $(proc_kib "${PID[$name]}" VmRSS | kib_to_mib)" >>"$TSV"
    i=$((i + 1))
  done
  # Probes of all the edges measured together; only one of them probes (health checks on) when $# is 1.
  echo "$1 idle-probes $(awk -v n="$((p1 - p0))" -v s="$IDLE" 'BEGIN {printf "%.0f", n / s}')" >>"$TSV"
}

# One more repository in the directory: the seconds from creating it to its first answer (directory watcher).
add_one() { # name dir
  local t0 uuid secs c0
  c0=$(ticks "${PID[$1]}"); t0=$(date +%s.%N)
  uuid=$(make_repos "$2" 1 "repo-added-$1")
  secs=$(answered_after "$1" "$uuid" "$t0") || die "$1 did not serve a new repository"
  echo "$1 add $secs" >>"$TSV"
  echo "$1 add-cpu $(awk -v t="$(($(ticks "${PID[$1]}") - c0))" -v ms="$TICK_MS" 'BEGIN {printf "%.0f", t * ms}')" >>"$TSV"
}

# checkpresent to the directory's last repository: "name conc round req/s requests cpu-ms seconds" (seconds: the
# load generator's whole run, over which the edge's CPU is counted).
route() { # name conc round
  local r c0 c1 t0 t1
  c0=$(ticks "${PID[$1]}"); t0=$(date +%s.%N)
  r=$(dotnet "$LOADGEN" "$(url "$1" "${LAST[${DIR[$1]}]}")" "$2" "$SECS") || die "load generator against $1"
  c1=$(ticks "${PID[$1]}"); t1=$(date +%s.%N)
  read -r rps errors answers <<<"$r"
  [ "$errors" = 0 ] || die "$1 at $2 connections: $errors failed answers"
  echo "$1 route $2 $3 $rps $answers $(awk -v t="$((c1 - c0))" -v ms="$TICK_MS" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f %.2f", t * ms, b - a}')" >>"$TSV"
}

mkdir -p "$OUT"
TSV="$WORK/forge.tsv"
: >"$TSV"
DIR[small]=$WORK/repos-$SMALL DIR[large]=$WORK/repos-$REPOS DIR[defaults]=$WORK/repos-$REPOS
log "making $SMALL and $REPOS repositories"
t0=$(date +%s.%N)
mkdir -p "${DIR[small]}" "${DIR[large]}"
LAST[${DIR[small]}]=$(make_repos "${DIR[small]}" "$SMALL")
LAST[${DIR[large]}]=$(make_repos "${DIR[large]}" "$REPOS")
log "made in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s"

PORT[backend]=$(free_port)
start "$WORK/backend.log" "$WORK" python3 "$ROOT/bench/fixed-backend.py" "${PORT[backend]}"
wait_for "the fixed-answer backend" curl -sf "http://127.0.0.1:${PORT[backend]}/count"

# 1. Defaults: active health checks probe every repository every 10 s.
# The idle window comes after a new repository was served, so that the JIT compiling what start-up ran is not
# counted as the cost of idling.
start_edge defaults "${DIR[large]}" true
add_one defaults "${DIR[large]}"
idle defaults
stop_edge defaults

# 2. Health checks off: 10 against N repositories.
start_edge small "${DIR[small]}" false
start_edge large "${DIR[large]}" false
add_one small "${DIR[small]}"
add_one large "${DIR[large]}"
log "warming up both edges (JIT)"
for name in small large; do route "$name" 1 warmup; done
for round in $(seq 1 "$ROUNDS"); do
  for conc in $CONCURRENCY; do
    order=(small large)
    [ $((round % 2)) = 1 ] || order=(large small)
    for name in "${order[@]}"; do
      log "round $round: checkpresent via $name at $conc connections"
      route "$name" "$conc" "$round"
    done
  done
done
# Idle last, when the JIT has long compiled what requests and rescans run (it would otherwise count as idling).
idle small large
grep -v ' warmup ' "$TSV" >"$OUT/forge-latest.tsv"

python3 - "$TSV" "$REPOS" "$SMALL" "$IDLE" "$SECS" "$ROUNDS" "${EDGE_LABEL:-$(git -C "$ROOT" rev-parse --short HEAD)}" "$(uptime)" \
  >"$OUT/forge-latest.md" <<'PY'
import statistics, sys
path, repos, small, idle, secs, rounds, commit, up = sys.argv[1:]
repos, small, idle = int(repos), int(small), float(idle)
fig, route = {}, {}
for line in open(path):
    f = line.split()
    if f[1] == "route":
        if f[3] != "warmup":
            route.setdefault((f[0], int(f[2])), []).append((float(f[4]), int(f[5]), float(f[6]), float(f[7])))
    else:
        fig[(f[0], f[1])] = float(f[2])
rescans = idle / 5
print(f"# Scale of a forge: {repos} repositories (and {small}), edge {commit}\n")
print(f"Load at the end: {up.strip()}\n")
print("| edge | repositories | health checks | start to last repository answering (edge CPU) | RSS after start | RSS after idle | idle CPU per 5 s rescan | probes/s | new repository answering after (edge CPU) |")
print("|---|---|---|---|---|---|---|---|---|")
for name, n, hc in [("defaults", repos, "on"), ("small", small, "off"), ("large", repos, "off")]:
    g = lambda k, f="%.0f": (f % fig[(name, k)]) if (name, k) in fig else "-"
    per = fig[(name, "idle-ms")] / rescans
    probes = g("idle-probes") if hc == "on" else "-"
    print(f"| {name} | {n} | {hc} | {g('start', '%.2f')} s ({g('start-cpu')} ms) | {g('rss-start')} MiB | {g('rss-idle')} MiB | {per:.0f} ms | {probes} | {g('add', '%.2f')} s ({g('add-cpu')} ms) |")
print(f"\nIdle CPU per rescan = the edge's CPU over {idle:.0f} s idle / {rescans:.0f} (RescanInterval 5 s); with health checks on it includes the probes.\n")
print(f"Routing: checkpresent to the last repository, {secs} s per measurement, {rounds} round(s); median (min–max) over rounds.")
print("Wall µs/request = 1 / throughput. The edge's CPU is counted over the load generator's whole run; \"less idle\"")
print("subtracts the edge's idle CPU rate (its periodic rescans, measured above) over that run, leaving the requests' own.\n")
print("| connections | edge | req/s | wall µs/request | edge CPU µs/request | edge CPU µs/request, less idle |")
print("|---|---|---|---|---|---|")
ratios = []
span = lambda xs, f="%.0f": f"{f % statistics.median(xs)} ({f % min(xs)}–{f % max(xs)})"
for conc in sorted({c for _, c in route}):
    med = {}
    for name in ["small", "large"]:
        runs = route[(name, conc)]
        rate = fig[(name, "idle-ms")] / idle
        cpu = [c * 1000 / n for _, n, c, _ in runs]
        net = [(c - rate * s) * 1000 / n for _, n, c, s in runs]
        wall = [1e6 / r for r, _, _, _ in runs]
        rps = [r for r, _, _, _ in runs]
        med[name] = (statistics.median(wall), statistics.median(cpu), statistics.median(net))
        print(f"| {conc} | {name} ({repos if name == 'large' else small}) | {span(rps)} | {span(wall)} | {span(cpu)} | {span(net)} |")
    s, l = med["small"], med["large"]
    ratios.append((conc, l[0] / s[0], l[1] / s[1], l[2] / s[2]))
print()
print(f"| connections | wall ratio {repos}/{small} | CPU ratio {repos}/{small} | CPU ratio less idle |")
print("|---|---|---|---|")
for conc, w, c, n in ratios:
    print(f"| {conc} | {w:.2f} | {c:.2f} | {n:.2f} |")
print()
start = max(fig[("defaults", "start")], fig[("large", "start")])
add = max(fig[("defaults", "add")], fig[("large", "add")])
rss = max(fig[(n, k)] for n in ["defaults", "large"] for k in ["rss-start", "rss-idle"])
cpu = max(abs(n - 1) for _, _, _, n in ratios)
print("| target | measured | met |")
print("|---|---|---|")
print(f"| start-up < 10 s | {start:.2f} s | {'met' if start < 10 else 'not met'} |")
print(f"| new repository served (rescan) < 10 s | {add:.2f} s | {'met' if add < 10 else 'not met'} |")
print(f"| RSS < 300 MiB | {rss:.0f} MiB | {'met' if rss < 300 else 'not met'} |")
print(f"| routing CPU ratio {repos}/{small}, less idle, ~1.0 (within ±0.15) | {', '.join(f'{n:.2f}' for _, _, _, n in ratios)} | {'met' if cpu <= 0.15 else 'not met'} |")
print(f"| idle CPU per rescan of {repos} (health checks off) | {fig[('large', 'idle-ms')] / rescans:.0f} ms | (no target) |")
PY
cat "$OUT/forge-latest.md"
