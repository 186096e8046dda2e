#!/usr/bin/env bash
# AnnexEdge demo: a git-annex cluster. Three node repositories served by `git annex p2phttp` (node1 by two
# processes: replicas), a gateway repository made with git-annex's own cluster commands, and AnnexEdge in front of
# the nodes as the cluster's gateway.
#
#   ./demo/run.sh            start everything; AnnexEdge runs in the foreground, Ctrl-C stops it and the nodes
#   ./demo/run.sh --detach   start everything in the background and return once the edge answers
#   ./demo/run.sh --https    also HTTPS: AnnexEdge gets its certificate for localhost at start-up over ACME from a
#                            local Pebble (Debian's ACME test server); clients use annex+https://localhost:PORT+1/
#   ./demo/run.sh stop       stop everything a previous run started
#
# Environment: ANNEXEDGE_DEMO_DIR (default: <repo>/.demo) holds repositories, config, logs and pid files;
# PORT (default 8417) is the edge's loopback port, HTTPS_PORT (default PORT+1) its HTTPS port with --https.
# Re-running stops the previous run and reuses its repositories.
# Everything listens on 127.0.0.1 only; that is why the demo lets anonymous clients do everything.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
demo_dir=${ANNEXEDGE_DEMO_DIR:-$repo/.demo}
edge_port=${PORT:-8417}
run_dir=$demo_dir/run
log_dir=$demo_dir/logs
marker=$demo_dir/.annexedge-demo
# node1 has two p2phttp processes on one repository (replicas behind one edge route); node2 and node3 have one.
nodes=(node1:2 node2:1 node3:1)
cluster=mycluster
# The --jobs of every p2phttp process; the edge is told (Repositories[].Jobs) so its lock budgets match the nodes.
jobs=4
probe_client=00000000-0000-4000-8000-0000000de770

say() { echo "demo: $*"; }
die() { echo "demo: error: $*" >&2; exit 1; }

usage() {
  sed -n '2,15s/^# \{0,1\}//p' "$0"
}

# Refuses to work in a directory the demo did not make: `stop` kills pids and repositories may be recreated there.
check_demo_dir() {
  if [ -d "$demo_dir" ] && [ ! -e "$marker" ] && [ -n "$(ls -A "$demo_dir")" ]; then
    die "$demo_dir exists and was not made by this demo; choose another ANNEXEDGE_DEMO_DIR"
  fi
}

# The process group (setsid) of a pid file, if it still runs and is what the demo started.
live_group() {
  local pidfile=$1 expect=$2 pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 -- "-$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$expect"; then
    return 1
  fi
  echo "$pid"
}

stop_one() {
  local pidfile=$1 name pid expect=p2phttp
  name=$(basename "$pidfile" .pid)
  case "$name" in edge) expect=dotnet ;; pebble) expect=pebble ;; pebble-dns) expect=pebble-challtestsrv ;; esac
  if pid=$(live_group "$pidfile" "$expect"); then
    # Signal the whole group: `git annex` and `dotnet run` each leave a child process behind otherwise.
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 -- "-$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    say "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
}

stop_all() {
  [ -d "$run_dir" ] || return 0
  local pidfile
  # The edge first, so it does not mark nodes down while they go.
  [ -e "$run_dir/edge.pid" ] && stop_one "$run_dir/edge.pid"
  for pidfile in "$run_dir"/*.pid; do
    [ -e "$pidfile" ] && stop_one "$pidfile"
  done
  return 0
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nothing listens on (each p2phttp listens before the next port is picked; a lost race is retried).
free_port() {
  local port
  while :; do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    [ "$port" != "$edge_port" ] && ! port_in_use "$port" && break
  done
  echo "$port"
}

# Runs a command in its own session (so stop can signal its whole process group), output to a log.
start_background() {
  local name=$1 pid; shift
  setsid "$@" </dev/null >"$log_dir/$name.log" 2>&1 &
  pid=$!
  echo "$pid" >"$run_dir/$name.pid"
  # The group exists only once the child has called setsid. Until then a liveness check would take the process for
  # dead and `stop` would not find it (seen on a loaded machine: a p2phttp left running), so wait for it (at most 5 s).
  for _ in $(seq 100); do
    kill -0 -- "-$pid" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
}

git_id=(-c user.name="AnnexEdge demo" -c user.email=demo@annexedge.invalid)

# Makes (or reuses) a git-annex repository that accepts pushes to its checked-out branch.
ensure_repository() {
  local name=$1 dir=$demo_dir/$1
  if git -C "$dir" config annex.uuid >/dev/null 2>&1; then
    say "reusing repository $dir"
    return
  fi
  rm -rf "$dir"
  say "creating repository $dir"
  git init -q -b main "$dir"
  # p2phttp commits to the git-annex branch: give the repository an identity that works on any machine.
  git -C "$dir" config user.name "AnnexEdge demo"
  git -C "$dir" config user.email demo@annexedge.invalid
  git -C "$dir" annex init -q "$name"
  git -C "$dir" config receive.denyCurrentBranch updateInstead
  printf '# %s\n\nA git-annex repository of the AnnexEdge demo.\n' "$name" >"$dir/README.md"
  git -C "$dir" add README.md
  git -C "$dir" "${git_id[@]}" commit -q -m "demo repository $name"
}

# The cluster's gateway repository, made as docs/clusters.md says with git-annex's own commands. Clients clone it
# (its git-annex branch records the cluster and its nodes) and reach its annex through the edge. Reused only if its
# cluster still has exactly the current nodes.
ensure_gateway() {
  local dir=$demo_dir/gateway entry name uuids=() log
  for entry in "${nodes[@]}"; do
    uuids+=("$(git -C "$demo_dir/${entry%%:*}" config annex.uuid)")
  done
  if log=$(git -C "$dir" show git-annex:cluster.log 2>/dev/null) \
      && [ "$(awk '{for (i = 3; i <= NF; i++) print $i}' <<<"$log" | sort | tr '\n' ' ')" = "$(printf '%s\n' "${uuids[@]}" | sort | tr '\n' ' ')" ]; then
    say "reusing gateway repository $dir"
    return
  fi
  rm -rf "$dir"
  say "creating gateway repository $dir (git annex initcluster $cluster; updatecluster)"
  git init -q -b main "$dir"
  git -C "$dir" config user.name "AnnexEdge demo"
  git -C "$dir" config user.email demo@annexedge.invalid
  git -C "$dir" annex init -q gateway
  git -C "$dir" config receive.denyCurrentBranch updateInstead
  printf '# gateway\n\nThe gateway repository of the AnnexEdge demo cluster %s.\n' "$cluster" >"$dir/README.md"
  git -C "$dir" add README.md
  git -C "$dir" "${git_id[@]}" commit -q -m "demo gateway repository"
  git -C "$dir" annex initcluster "$cluster" >/dev/null
  for entry in "${nodes[@]}"; do
    name=${entry%%:*}
    git -C "$dir" remote add "$name" "$demo_dir/$name"
    git -C "$dir" config "remote.$name.annex-cluster-node" "$cluster"
    git -C "$dir" fetch -q "$name"
  done
  local out
  out=$(git -C "$dir" annex updatecluster 2>&1) || die "git annex updatecluster failed in $dir: $out"
}

# The cluster UUID that `git annex initcluster` made: cluster.log lines are "<timestamp> <cluster uuid> <node uuid>...".
cluster_uuid() {
  git -C "$demo_dir/gateway" show git-annex:cluster.log | awk 'NR == 1 { print $2 }'
}

# Starts `git annex p2phttp` for a repository on a free port; prints the port once it answers.
start_p2phttp() {
  local name=$1 id=$2 dir=$demo_dir/$1 uuid port attempt
  uuid=$(git -C "$dir" config annex.uuid)
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    start_background "$id" git -C "$dir" annex p2phttp --bind 127.0.0.1 --port "$port" --jobs "$jobs" --wideopen
    for _ in $(seq 150); do
      if curl -fsS -o /dev/null -X POST --max-time 2 \
          "http://127.0.0.1:$port/git-annex/$uuid/v4/gettimestamp?clientuuid=$probe_client" 2>/dev/null; then
        echo "$port"
        return 0
      fi
      live_group "$run_dir/$id.pid" p2phttp >/dev/null || break
      sleep 0.2
    done
    # Most likely another program took the port between the check and the bind: try another one.
    stop_one "$run_dir/$id.pid" >/dev/null
    say "p2phttp $id did not start on port $port (attempt $attempt):" >&2
    sed 's/^/    /' "$log_dir/$id.log" >&2
  done
  die "cannot start git annex p2phttp for $name; see $log_dir/$id.log"
}

write_config() {
  local file=$1 first=1 entry name replicas uuid i sep token_key node_names=""
  token_key=$(head -c 32 /dev/urandom | base64 -w0)
  {
    printf '{\n  "AnnexEdge": {\n'
    # The edge is the cluster's gateway: it answers for the gateway repository's UUID.
    printf '    "Uuid": "%s",\n' "$(git -C "$demo_dir/gateway" config annex.uuid)"
    printf '    "Repositories": [\n'
    for entry in "${nodes[@]}"; do
      name=${entry%%:*} replicas=${entry##*:}
      uuid=$(git -C "$demo_dir/$name" config annex.uuid)
      [ $first -eq 1 ] || { printf ',\n'; node_names+=", "; }
      first=0
      node_names+="\"$name\""
      printf '      {\n        "Name": "%s",\n        "Uuid": "%s",\n        "Jobs": %s,\n        "Backends": [' \
        "$name" "$uuid" "$jobs"
      sep=""
      for i in $(seq "$replicas"); do
        printf '%s"http://127.0.0.1:%s"' "$sep" "${backend_ports[$name-$i]}"
        sep=", "
      done
      printf ']\n      }'
    done
    printf '\n    ],\n'
    printf '    "Clusters": [\n      { "Name": "%s", "Uuid": "%s", "Nodes": [%s] }\n    ],\n' \
      "$cluster" "$(cluster_uuid)" "$node_names"
    printf '    "HealthChecks": { "Interval": "00:00:05" },\n'
    # Loopback only, so the demo opts in to anonymous full access explicitly (the edge's default is none).
    printf '    "Anonymous": { "*": "full" },\n'
    if [ $https -eq 1 ]; then
      # The demo's certificate comes from the local Pebble, whose own HTTPS the edge trusts through TrustedRootsFile.
      printf '    "Acme": {\n      "Enabled": true,\n      "AcceptTermsOfService": true,\n'
      printf '      "DirectoryUrl": "https://127.0.0.1:%s/dir",\n' "$pebble_port"
      printf '      "TrustedRootsFile": "%s",\n' "$tls_dir/pebble-tls.pem"
      printf '      "Domains": [ "localhost" ],\n      "StorePath": "%s"\n    },\n' "$demo_dir/acme"
    fi
    printf '    "Locking": { "TokenKey": "%s" }\n  }\n}\n' "$token_key"
  } >"$file"
}

print_session() {
  local annex_url=$1 session=$2
  # One command per line, comments aligned after it (the file is the session; it runs as it reads).
  session_line() { if [ $# -eq 1 ]; then echo "$1"; else printf '%-50s # %s\n' "$1" "$2"; fi; }
  {
    session_line 'cd "$(mktemp -d)"'
    if [ $https -eq 1 ]; then
      # git-annex ignores SSL_CERT_FILE; its TLS library reads the system store, or this directory instead of it.
      session_line "export SYSTEM_CERTIFICATE_PATH=$(printf %q "$tls_dir/trust")" "trust the demo's Pebble root (only)"
    fi
    session_line "git clone -q $(printf %q "$demo_dir/gateway") myclone && cd myclone"
    session_line 'git config user.name "AnnexEdge demo" && git config user.email demo@annexedge.invalid'
    session_line "git annex init -q myclone" "the gateway's git-annex branch names the cluster"
    session_line "git config annex.security.allowed-ip-addresses all" "the edge listens on loopback"
    session_line "git config remote.origin.annexUrl $annex_url"
    session_line 'echo "hello at $(date)" > hello.txt'
    session_line 'git annex add hello.txt && git commit -q -m "add hello.txt"'
    session_line "git annex copy --to origin-$cluster hello.txt" "one upload; the edge stores it on the 3 nodes"
    session_line "git annex whereis hello.txt" "here, node1, node2, node3 (and the cluster)"
    session_line "git annex drop hello.txt" "a node locks its copy for the drop (lockcontent)"
    session_line "git annex get --from origin-$cluster hello.txt" "downloaded from one node through the edge"
    session_line "git annex drop --from origin-$cluster hello.txt" "removed from every node"
    session_line "git annex copy --to origin-node2 hello.txt" "one node, by its own UUID, through the edge"
    session_line "git annex whereis hello.txt" "here and node2 (and the cluster)"
    session_line "git annex drop --from origin-node2 hello.txt"
  } >"$session"
  echo
  echo "AnnexEdge is the gateway of the git-annex cluster $cluster (node1 with two p2phttp replicas, node2, node3):"
  echo
  echo "    gateway repository: $demo_dir/gateway"
  echo "    annexUrl:           $annex_url"
  echo
  echo "Anonymous clients may do everything (\"Anonymous\": {\"*\": \"full\"} in $demo_dir/annexedge.json):"
  echo "fine on loopback, never on a reachable address (see docs/security.md)."
  echo
  echo "Try it with git-annex (copy and paste into another shell; also saved in $session):"
  echo
  sed 's/^/    /' "$session"
  echo
  if [ $https -eq 1 ]; then
    echo "The certificate of https://localhost:$https_port was issued at start-up by the local Pebble ACME server;"
    echo "its root is $tls_dir/trust/pebble-root.pem (regenerated at each Pebble start)."
    echo "Check: curl --cacert $tls_dir/trust/pebble-root.pem https://localhost:$https_port/_annexedge/health"
    echo
  fi
  echo "Status of the nodes and replicas: curl http://127.0.0.1:$edge_port/_annexedge/status"
  echo "Logs: $log_dir"
}

wait_for_edge() {
  for _ in $(seq 300); do
    if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$edge_port/_annexedge/health" 2>/dev/null; then
      return 0
    fi
    if ! live_group "$run_dir/edge.pid" dotnet >/dev/null; then
      cat "$log_dir/edge.log" >&2
      die "AnnexEdge exited at start-up (log above: $log_dir/edge.log)"
    fi
    sleep 0.2
  done
  cat "$log_dir/edge.log" >&2
  die "AnnexEdge did not answer http://127.0.0.1:$edge_port/_annexedge/health within 60 s"
}

# A local ACME CA: Pebble (with pebble-challtestsrv as its DNS, resolving every name to 127.0.0.1) validates the
# edge's http-01 answers on PORT and tls-alpn-01 on HTTPS_PORT. Its own HTTPS uses a throwaway certificate made here.
start_pebble() {
  local dns_port mgmt_port attempt
  command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null || die "pebble is missing (apt-get install pebble)"
  command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"
  rm -rf "$tls_dir" "$demo_dir/acme"
  mkdir -p "$tls_dir/trust"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=AnnexEdge demo Pebble" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext "basicConstraints=critical,CA:TRUE" \
    -keyout "$tls_dir/pebble-tls.key" -out "$tls_dir/pebble-tls.pem" 2>/dev/null || die "openssl could not make Pebble's certificate"
  for attempt in 1 2 3 4 5; do
    dns_port=$(free_port) pebble_port=$(free_port) mgmt_port=$(free_port)
    cat >"$tls_dir/pebble.json" <<JSON
{ "pebble": { "listenAddress": "127.0.0.1:$pebble_port", "managementListenAddress": "127.0.0.1:$mgmt_port",
  "certificate": "$tls_dir/pebble-tls.pem", "privateKey": "$tls_dir/pebble-tls.key",
  "httpPort": $edge_port, "tlsPort": $https_port, "ocspResponderURL": "", "externalAccountBindingRequired": false } }
JSON
    start_background pebble-dns pebble-challtestsrv -dns01 "127.0.0.1:$dns_port" -http01 "" -https01 "" -tlsalpn01 "" \
      -management "127.0.0.1:$(free_port)" -defaultIPv6 "" -defaultIPv4 127.0.0.1
    # No artificial validation delays: the demo's certificate is there within a second or two.
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 start_background pebble pebble -config "$tls_dir/pebble.json" -dnsserver "127.0.0.1:$dns_port"
    for _ in $(seq 150); do
      if curl -fsS --max-time 2 --cacert "$tls_dir/pebble-tls.pem" -o "$tls_dir/trust/pebble-root.pem" \
          "https://127.0.0.1:$mgmt_port/roots/0" 2>/dev/null; then
        say "Pebble ACME server on https://127.0.0.1:$pebble_port/dir (root: $tls_dir/trust/pebble-root.pem)"
        return 0
      fi
      live_group "$run_dir/pebble.pid" pebble >/dev/null && live_group "$run_dir/pebble-dns.pid" pebble-challtestsrv >/dev/null || break
      sleep 0.2
    done
    stop_one "$run_dir/pebble.pid" >/dev/null
    stop_one "$run_dir/pebble-dns.pid" >/dev/null
    say "Pebble did not start (attempt $attempt):" >&2
    sed 's/^/    /' "$log_dir/pebble.log" "$log_dir/pebble-dns.log" >&2
  done
  die "cannot start Pebble; see $log_dir/pebble.log"
}

# The edge serves a self-signed certificate until its first one is issued: wait until HTTPS verifies with Pebble's root.
wait_for_certificate() {
  for _ in $(seq 300); do
    if curl -fsS -o /dev/null --max-time 2 --cacert "$tls_dir/trust/pebble-root.pem" \
        "https://localhost:$https_port/_annexedge/health" 2>/dev/null; then
      say "AnnexEdge serves https://localhost:$https_port with a certificate from Pebble"
      return 0
    fi
    live_group "$run_dir/edge.pid" dotnet >/dev/null || { cat "$log_dir/edge.log" >&2; die "AnnexEdge exited (log above)"; }
    sleep 0.2
  done
  tail -n 50 "$log_dir/edge.log" >&2
  die "AnnexEdge got no certificate from Pebble within 60 s (logs: $log_dir/edge.log, $log_dir/pebble.log)"
}

detach=0 https=0
[ $# -gt 0 ] || set -- ""
for arg in "$@"; do
  case "$arg" in
    "") ;;
    --detach) detach=1 ;;
    --https) https=1 ;;
    stop)
      [ $# -eq 1 ] || { usage >&2; exit 2; }
      check_demo_dir
      if compgen -G "$run_dir/*.pid" >/dev/null; then stop_all; else say "nothing to stop in $demo_dir"; fi
      exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
https_port=${HTTPS_PORT:-$((edge_port + 1))}
tls_dir=$demo_dir/tls

command -v dotnet >/dev/null || die "the .NET SDK is missing: install .NET 10 (https://dot.net) and re-run"
check_demo_dir
say "checking dependencies (scripts/install-deps.sh: git-annex from bookworm-backports, curl, ...)"
"$repo/scripts/install-deps.sh"

stop_all
if port_in_use "$edge_port"; then
  die "port $edge_port is already in use; pick another one: PORT=8427 $0 $*"
fi
if [ $https -eq 1 ] && port_in_use "$https_port"; then
  die "port $https_port (HTTPS) is already in use; pick another one: HTTPS_PORT=8428 $0 $*"
fi
mkdir -p "$demo_dir" "$run_dir" "$log_dir"
touch "$marker"

# From here on, any failure or Ctrl-C stops what this run started; only a successful --detach leaves it running.
keep_running=0
trap '[ $keep_running -eq 1 ] || stop_all' EXIT
trap 'echo; exit 130' INT TERM

declare -A backend_ports=()
for entry in "${nodes[@]}"; do
  name=${entry%%:*} replicas=${entry##*:}
  ensure_repository "$name"
done
ensure_gateway
for entry in "${nodes[@]}"; do
  name=${entry%%:*} replicas=${entry##*:}
  for i in $(seq "$replicas"); do
    backend_ports[$name-$i]=$(start_p2phttp "$name" "$name-$i")
    say "git annex p2phttp for $name (replica $i) on http://127.0.0.1:${backend_ports[$name-$i]}"
  done
done

if [ $https -eq 1 ]; then
  start_pebble
fi

config=$demo_dir/annexedge.json
write_config "$config"
say "wrote $config"

say "building AnnexEdge (Release)"
if ! build_log=$(dotnet build "$repo/src/AnnexEdge" -c Release -nologo -v q 2>&1); then
  echo "$build_log" >&2
  die "dotnet build failed"
fi

urls="http://127.0.0.1:$edge_port"
[ $https -eq 0 ] || urls+=";https://127.0.0.1:$https_port"
say "starting AnnexEdge on ${urls//;/ and }"
start_background edge dotnet run --no-build --project "$repo/src/AnnexEdge" -c Release -- \
  --config "$config" --urls "$urls"
wait_for_edge

if [ $https -eq 1 ]; then
  wait_for_certificate
  print_session "annex+https://localhost:$https_port/git-annex/" "$demo_dir/session.sh"
else
  print_session "annex+http://127.0.0.1:$edge_port/git-annex/" "$demo_dir/session.sh"
fi

if [ $detach -eq 1 ]; then
  keep_running=1
  echo
  echo "Everything runs in the background. Stop it with: $0 stop"
  exit 0
fi

echo
echo "AnnexEdge log follows; Ctrl-C stops AnnexEdge and the p2phttp nodes."
echo
# `wait`, unlike a foreground command, returns at once on a signal, so `kill` of this script stops everything too.
tail -n +1 -f --pid="$(cat "$run_dir/edge.pid")" "$log_dir/edge.log" &
wait $! || true
die "AnnexEdge has stopped (log: $log_dir/edge.log)"
