#!/usr/bin/env bash
# Idle scale (issue 17): AnnexEdge with many idle HTTPS client connections and many locks held through keeplocked.
# One repository with one annexed object, served by 2 `git annex p2phttp` processes (replicas, the edge's Backends)
# with enough --jobs for every lock (each granted lock pins workers until unlocked, docs/locking.md); the edge
# (Release, Serilog Warning) serves HTTPS only, with a self-signed ECDSA P-256 certificate from files as run.sh makes
# it. Measured on the same edge process, first unloaded and then with the load held:
#   - RSS (VmRSS) at the end of the idle window, and peak (VmHWM),
#   - CPU (utime+stime from /proc) over an idle window, as % of one core,
#   - a new client's checkpresent latency: REQUESTS sequential requests each on a fresh TLS connection, then REQUESTS
#     on one keep-alive connection (median and p95 of each), from 127.0.0.1.
# The load (AnnexEdge.Bench hold): CONNECTIONS TLS connections from 127.1.x.y (25 per address), each verified against
# the certificate, each answered one checkpresent and then left open idle; LOCKS locks from 127.2.x.y (4 per address,
# the default Locking:MaxLocksPerClient; each on its own key), each a lockcontent answered locked:true followed by a keeplocked whose body
# stays open. The load is checked before and after the measurements (the client's own view and `ss` at the edge's
# port); the locks are released with {"unlock": true} at the end and their answers checked.
#
# usage: bench/idle.sh [--connections N] [--locks N] [--window SECONDS] [--requests N] [--edge-env NAME=VALUE]... [--quick]
#   --quick     smoke run: 1,000 connections, 100 locks, 10 s idle window, 50 requests
#   --edge-env  an environment variable for the edge process only (e.g. DOTNET_gcServer=0), repeatable
# Prints a markdown report and writes it to bench/results/idle-latest.md.
set -euo pipefail

CONNECTIONS=10000 LOCKS=1000 WINDOW=30 REQUESTS=200 EDGE_ENV=()
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) CONNECTIONS=${2:?}; shift 2 ;;
    --locks) LOCKS=${2:?}; shift 2 ;;
    --window) WINDOW=${2:?}; shift 2 ;;
    --requests) REQUESTS=${2:?}; shift 2 ;;
    --edge-env) [[ ${2:-} == *=* ]] || { echo "--edge-env needs NAME=VALUE" >&2; exit 2; }; EDGE_ENV+=("$2"); shift 2 ;;
    --quick) CONNECTIONS=1000 LOCKS=100 WINDOW=10 REQUESTS=50; shift ;;
    *) sed -n '2,19s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/lib.sh"
bench_init idle
need git-annex "apt-get install git-annex"
need curl "apt-get install curl"
need dotnet "the .NET 10 SDK"
need python3 "apt-get install python3"
need openssl "apt-get install openssl"
need ss "apt-get install iproute2"
# The edge, the holder and the nodes each have a descriptor per connection (the nodes one per lock).
[ "$(ulimit -n)" -ge $((CONNECTIONS + 2 * LOCKS + 1000)) ] || die "ulimit -n $(ulimit -n) is too low for $CONNECTIONS connections and $LOCKS locks"
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

build_edge
build_loadgen

make_certificate

log "creating the repository"
git init -q -b main "$WORK/node"
# One object for the idle connections' checkpresent, and one per lock. With all locks on one key, taken 16 at a time, a
# node answered locked:false to one lockcontent after about 930 had been granted (no refusal by the edge); one key per
# lock keeps them off one content's lock file, and a refusal is asked again and counted in the report.
mkdir -p "$WORK/node/locks"
for i in $(seq 1 "$LOCKS"); do echo "lock $i" >"$WORK/node/locks/$i"; done
(cd "$WORK/node" && git annex init -q idle-node && echo idle >object && git annex add -q object locks && git commit -q -m objects)
KEY=$(cd "$WORK/node" && git annex lookupkey object)
(cd "$WORK/node" && git annex find --format='${key}\n' locks) >"$WORK/lock-keys"
[ "$(wc -l <"$WORK/lock-keys")" = "$LOCKS" ] || die "expected $LOCKS lock objects, found $(wc -l <"$WORK/lock-keys")"
UUID=$(git -C "$WORK/node" config annex.uuid)

# The edge's default lock budget per backend is Jobs / 2 - 1 (two workers per lock, two left free); 2 backends with
# enough --jobs that the budgets hold every lock, with 8 slots to spare on each.
BACKENDS=2
JOBS=$(( 2 * ((LOCKS + BACKENDS - 1) / BACKENDS + 8 + 1) ))
declare -a NODE_PORT NODE_PID
for i in $(seq 1 $BACKENDS); do
  NODE_PORT[i]=$(free_port)
  start "$WORK/node$i.log" "$WORK/node" git-annex p2phttp --bind 127.0.0.1 --port "${NODE_PORT[i]}" --jobs "$JOBS" --wideopen
  NODE_PID[i]=${PIDS[-1]}
done
for i in $(seq 1 $BACKENDS); do
  wait_for "node $i" curl -sf -X POST "http://127.0.0.1:${NODE_PORT[i]}/git-annex/$UUID/v4/gettimestamp?clientuuid=$CLIENT"
done

# Limits raised from their defaults, and why (everything else, per-address limits included, stays at its default):
#   MaxConcurrentConnections (10,000): the load alone is CONNECTIONS + LOCKS connections, plus the measuring client.
#   KeepAliveTimeout (130 s): the idle connections send nothing after their one request, and opening them all, the
#     idle window and the latency runs take longer than 130 s on this machine; they must still be open at the end.
BACKEND_JSON=$(for i in $(seq 1 $BACKENDS); do printf '"http://127.0.0.1:%s"\n' "${NODE_PORT[i]}"; done | paste -sd, -)
cat >"$WORK/edge.json" <<JSON
{ "AnnexEdge": {
    "Repositories": [ { "Name": "node", "Uuid": "$UUID", "Jobs": $JOBS, "Backends": [ $BACKEND_JSON ] } ],
    "Anonymous": { "*": "full" },
    "Limits": { "MaxConcurrentConnections": $((CONNECTIONS + LOCKS + 100)), "KeepAliveTimeout": "00:15:00" },
    "Locking": { "TokenKey": "$(head -c 32 /dev/urandom | base64)" } },
  "Serilog": { "MinimumLevel": { "Default": "Warning" } } }
JSON
EDGE_PORT=$(free_port)
start "$WORK/edge.log" "$WORK" env "${EDGE_ENV[@]}" dotnet "$EDGE_DLL" --config "$WORK/edge.json" --urls "https://127.0.0.1:$EDGE_PORT" \
  --Kestrel:Certificates:Default:Path="$WORK/tls/cert.pem" --Kestrel:Certificates:Default:KeyPath="$WORK/tls/key.pem"
EDGE_PID=${PIDS[-1]}
API="https://127.0.0.1:$EDGE_PORT/git-annex/$UUID/v4"
wait_for "AnnexEdge" curl -sf -X POST "$API/gettimestamp?clientuuid=$CLIENT"
[[ $(curl -s -X POST "$API/checkpresent?key=$KEY&clientuuid=$CLIENT") == *'"present":true'* ]] || die "checkpresent through the edge"

TICK=$(getconf CLK_TCK)
edge_connections() { ss -Htn state established "( sport = :$EDGE_PORT )" | wc -l; }
latency() { dotnet "$LOADGEN" latency "$API/checkpresent?key=$KEY&clientuuid=$CLIENT" "$REQUESTS" || die "latency client exit $?"; }
# Sets CPU_<name> (% of one core over the window), RSS_<name> and ANON_<name> (MiB at its end: all resident memory,
# and the part of it that is the process's own, without the mapped code files and the JIT's double-mapped code).
# The window starts QUIET s after the warm-up or the load's set-up, so that it measures idling and not the tail of
# set-up (tiered JIT compiling in the background, garbage collection); the CPU of those QUIET s is reported too.
# 30 s: the edge gives back what the set-up left in its heap at the second of its 10 s checks that finds it quiet
# (Limits:ReleaseIdleMemory, one blocking collection of up to ~0.4 s here), so within ~20 s of the set-up's end.
QUIET=30
idle_window() { # name
  local t0 t1 q0
  q0=$(ticks "$EDGE_PID")
  sleep "$QUIET"
  t0=$(ticks "$EDGE_PID")
  printf -v "QUIET_$1" '%s' "$(awk -v d=$((t0 - q0)) -v t="$TICK" -v w="$QUIET" 'BEGIN {printf "%.2f", 100 * d / t / w}')"
  sleep "$WINDOW"
  t1=$(ticks "$EDGE_PID")
  printf -v "CPU_$1" '%s' "$(awk -v d=$((t1 - t0)) -v t="$TICK" -v w="$WINDOW" 'BEGIN {printf "%.2f", 100 * d / t / w}')"
  printf -v "TICKS_$1" '%s' $((t1 - t0))
  printf -v "RSS_$1" '%s' "$(proc_kib "$EDGE_PID" VmRSS | kib_to_mib)"
  printf -v "ANON_$1" '%s' "$(proc_kib "$EDGE_PID" RssAnon | kib_to_mib)"
}

# Warm-up, not recorded: JIT, the edge's pools to the nodes, the client's own start-up.
log "warming up"
latency >/dev/null
settle
log "unloaded: idle window of $WINDOW s after $QUIET s"
idle_window unloaded
HWM_unloaded=$(proc_kib "$EDGE_PID" VmHWM | kib_to_mib)
log "unloaded: latency, $REQUESTS fresh connections then $REQUESTS keep-alive requests"
R=$(latency)
read -r FRESH50_0 FRESH95_0 KEPT50_0 KEPT95_0 <<<"$R"
CONN_unloaded=$(edge_connections)

log "opening $CONNECTIONS idle connections and taking $LOCKS locks"
mkfifo "$WORK/holder.in"
start "$WORK/holder.log" "$WORK" bash -c 'exec dotnet "$@" <"$0"' "$WORK/holder.in" "$LOADGEN" hold \
  "$API/checkpresent?key=$KEY&clientuuid=$CLIENT" "$CONNECTIONS" 25 "$API/lockcontent?key=$KEY&clientuuid=$CLIENT" "$LOCKS" 4 \
  "$WORK/lock-keys"
HOLDER_PID=${PIDS[-1]}
exec 3>"$WORK/holder.in"
on_failure() { tail -5 "$WORK/holder.log" >&2; grep -c . "$WORK/edge.log" >&2 || true; }
# Waits for the holder's Nth line starting with WORD and prints it.
holder_says() { # word seconds n
  local line
  for _ in $(seq 1 $(($2 * 10))); do
    line=$(grep "^$1 " "$WORK/holder.log" | sed -n "${3}p")
    [ -n "$line" ] && { echo "$line"; return 0; }
    kill -0 "$HOLDER_PID" 2>/dev/null || die "the holder ended: $(tail -3 "$WORK/holder.log")"
    sleep 0.1
  done
  die "the holder did not say '$1' within $2 s"
}
R=$(holder_says ready 900 1)
read -r _ _ _ OPEN_SECS LOCK_SECS REFUSED <<<"$R"
CHECKS=0
check_load() { # when (run in the main shell: sets CONN_LOAD)
  local line held_idle held_locks
  echo check >&3
  CHECKS=$((CHECKS + 1))
  line=$(holder_says held 60 "$CHECKS")
  read -r _ held_idle held_locks <<<"$line"
  CONN_LOAD=$(edge_connections)
  conns=$(edge_connections)
  log "$1: the holder holds $held_idle idle connections and $held_locks locks; $CONN_LOAD connections established at the edge"
  [ "$held_idle" = "$CONNECTIONS" ] && [ "$held_locks" = "$LOCKS" ] || die "$1: the load is not all held"
  [ "$CONN_LOAD" -ge $((CONNECTIONS + LOCKS)) ] || die "$1: only $CONN_LOAD connections at the edge"
}
# A keeplocked the edge refuses is answered at once; give refusals the time to arrive before counting.
sleep 2
check_load "loaded"
CONN_loaded=$CONN_LOAD
FDS_loaded=$(ls "/proc/$EDGE_PID/fd" | wc -l)
settle
log "loaded: idle window of $WINDOW s after $QUIET s"
idle_window loaded
HWM_loaded=$(proc_kib "$EDGE_PID" VmHWM | kib_to_mib)
log "loaded: latency, $REQUESTS fresh connections then $REQUESTS keep-alive requests"
R=$(latency)
read -r FRESH50_1 FRESH95_1 KEPT50_1 KEPT95_1 <<<"$R"
check_load "after the measurements"
CONN_after=$CONN_LOAD
echo release >&3
R=$(holder_says released 180 1)
read -r _ RELEASED <<<"$R"
[ "$RELEASED" = "$LOCKS" ] || die "released $RELEASED of $LOCKS locks"
exec 3>&-
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)
WARNINGS=$(grep -c . "$WORK/edge.log" || true)

met() { awk -v v="$1" -v t="$2" 'BEGIN {print (v < t) ? "met" : "**not met**"}'; }
within() { awk -v l="$1" -v u="$2" 'BEGIN {printf "%+.2f ms", l - u}'; }
mkdir -p "$OUT"
{
  echo "# Idle scale: $CONNECTIONS idle HTTPS connections and $LOCKS locks held through keeplocked"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M') UTC, commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src bench || echo '+changes'),"
  echo "$(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), .NET $(dotnet --version), git-annex $(git-annex version --raw)."
  echo "Load average (1/5/15 min) at the start $LOADAVG_START, at the end $LOADAVG_END."
  [ ${#EDGE_ENV[@]} = 0 ] || echo "Edge environment: ${EDGE_ENV[*]}."
  echo "$BACKENDS p2phttp backends of one repository, --jobs $JOBS each (edge Jobs $JOBS, default MaxLocks $((JOBS / 2 - 1)) per backend)."
  echo "Load: $CONNECTIONS connections opened and answered in $OPEN_SECS s (25 per client address), $LOCKS locks taken in $LOCK_SECS s ($REFUSED"
  echo "lockcontent answers locked:false, each asked again after 100 ms; 4 per client address, one key each); connections established at the edge: $CONN_unloaded unloaded, $CONN_loaded loaded, $CONN_after after the"
  echo "measurements; edge file descriptors loaded: $FDS_loaded; all $RELEASED locks released with locked:false. Edge log lines at Warning: $WARNINGS."
  echo "CPU over a $WINDOW s idle window (clock ticks of $TICK/s: unloaded $TICKS_unloaded, loaded $TICKS_loaded), which starts $QUIET s after the warm-up"
  echo "or the load's set-up (CPU in those $QUIET s: unloaded $QUIET_unloaded %, loaded $QUIET_loaded % of one core); latency over $REQUESTS sequential"
  echo "checkpresent requests from 127.0.0.1, each on a fresh TLS connection, then on one keep-alive connection."
  echo
  echo "| Measure | Unloaded | Loaded | Target | |"
  echo "|---|---|---|---|---|"
  echo "| Edge RSS (VmRSS) at the end of the idle window | $RSS_unloaded MiB | $RSS_loaded MiB | < 400 MiB | $(met "$RSS_loaded" 400) |"
  echo "| Edge peak RSS (VmHWM) | $HWM_unloaded MiB | $HWM_loaded MiB | (none) | |"
  echo "| of RSS at the end, anonymous (RssAnon: heaps, not code files) | $ANON_unloaded MiB | $ANON_loaded MiB | (none) | |"
  echo "| Edge CPU while idle, % of one core | $CPU_unloaded % | $CPU_loaded % | < 2 % | $(met "$CPU_loaded" 2) |"
  echo "| New client, fresh connection: median | $FRESH50_0 ms | $FRESH50_1 ms ($(within "$FRESH50_1" "$FRESH50_0")) | ≤ unloaded + 50 ms | $(met "$FRESH50_1" "$(awk -v u="$FRESH50_0" 'BEGIN {print u + 50.0001}')") |"
  echo "| New client, fresh connection: p95 | $FRESH95_0 ms | $FRESH95_1 ms ($(within "$FRESH95_1" "$FRESH95_0")) | ≤ unloaded + 50 ms | $(met "$FRESH95_1" "$(awk -v u="$FRESH95_0" 'BEGIN {print u + 50.0001}')") |"
  echo "| New client, keep-alive: median | $KEPT50_0 ms | $KEPT50_1 ms ($(within "$KEPT50_1" "$KEPT50_0")) | ≤ unloaded + 50 ms | $(met "$KEPT50_1" "$(awk -v u="$KEPT50_0" 'BEGIN {print u + 50.0001}')") |"
  echo "| New client, keep-alive: p95 | $KEPT95_0 ms | $KEPT95_1 ms ($(within "$KEPT95_1" "$KEPT95_0")) | ≤ unloaded + 50 ms | $(met "$KEPT95_1" "$(awk -v u="$KEPT95_0" 'BEGIN {print u + 50.0001}')") |"
} | tee "$OUT/idle-latest.md"
