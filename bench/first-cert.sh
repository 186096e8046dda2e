#!/usr/bin/env bash
# Time to first certificate: from process start to the first HTTPS answer that verifies against Pebble's root, for
# AnnexEdge (http-01, tls-alpn-01) and for Caddy's own ACME client (the same two challenges), all against one Pebble
# on loopback with PEBBLE_VA_NOSLEEP=1. Every start has a fresh certificate store (new account, new order). The paths
# are measured in turn, each round starting one path further, so that machine noise hits them alike.
#
# usage: bench/first-cert.sh [--rounds N] [--edge-env "VAR=value ..."] [--edge-dll PATH]
#   --edge-env  environment of the edge processes only (e.g. "DOTNET_TieredPGO=0"), to compare runtime settings
#   --edge-dll  run this AnnexEdge.dll (e.g. an older build) instead of publishing src/AnnexEdge
# Prints a markdown table and writes it to bench/results/first-cert-latest.md.
set -euo pipefail

ROUNDS=5 EDGE_ENV="" EDGE_DLL=""
# A start that has not served a verified certificate after this long failed.
DEADLINE_SECS=60
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
    --edge-env) EDGE_ENV=${2:?}; shift 2 ;;
    --edge-dll) EDGE_DLL=${2:?}; shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--edge-env \"VAR=value ...\"] [--edge-dll PATH]" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/lib.sh"
bench_init firstcert
need pebble "apt-get install pebble"
need pebble-challtestsrv "apt-get install pebble"
need caddy "apt-get install caddy"
need curl "apt-get install curl"
need openssl "apt-get install openssl"
need dotnet "the .NET 10 SDK"
need python3 "apt-get install python3"

DOMAIN=edge.annexedge.test
# Start-up is what is measured: the published edge (ReadyToRun), as the Dockerfile and the docs install it.
[ -n "$EDGE_DLL" ] || publish_edge

# Pebble validates http-01 on HTTP_PORT and tls-alpn-01 on HTTPS_PORT: every path listens on these two in turn.
HTTP_PORT=$(free_port) HTTPS_PORT=$(free_port) PEBBLE_PORT=$(free_port) MGMT_PORT=$(free_port) DNS_PORT=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=first-cert bench Pebble" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext "basicConstraints=critical,CA:TRUE" \
  -keyout "$WORK/pebble-tls.key" -out "$WORK/pebble-tls.pem" 2>/dev/null || die "openssl could not make Pebble's certificate"
cat >"$WORK/pebble.json" <<JSON
{ "pebble": { "listenAddress": "127.0.0.1:$PEBBLE_PORT", "managementListenAddress": "127.0.0.1:$MGMT_PORT",
  "certificate": "$WORK/pebble-tls.pem", "privateKey": "$WORK/pebble-tls.key",
  "httpPort": $HTTP_PORT, "tlsPort": $HTTPS_PORT, "ocspResponderURL": "", "externalAccountBindingRequired": false } }
JSON
# challtestsrv is only Pebble's DNS here: every name resolves to 127.0.0.1.
start "$WORK/pebble-dns.log" "$WORK" pebble-challtestsrv -dns01 "127.0.0.1:$DNS_PORT" -http01 "" -https01 "" -tlsalpn01 "" \
  -management "127.0.0.1:$(free_port)" -defaultIPv6 "" -defaultIPv4 127.0.0.1
start "$WORK/pebble.log" "$WORK" env PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
  pebble -config "$WORK/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT"
wait_for Pebble curl -fsS --max-time 2 --cacert "$WORK/pebble-tls.pem" -o "$WORK/pebble-root.pem" "https://127.0.0.1:$MGMT_PORT/roots/0"
DIRECTORY="https://127.0.0.1:$PEBBLE_PORT/dir"

write_edge_config() { # file challenge store
  cat >"$1" <<JSON
{ "AnnexEdge": {
    "Repositories": [ { "Name": "unused", "Uuid": "11111111-2222-4333-8444-555555555555", "Backends": [ "http://127.0.0.1:9" ] } ],
    "HealthChecks": { "Enabled": false },
    "Anonymous": { "*": "full" },
    "Acme": { "Enabled": true, "DirectoryUrl": "$DIRECTORY", "AcceptTermsOfService": true, "Email": "ops@annexedge.test",
      "Domains": [ "$DOMAIN" ], "Challenges": [ "$2" ], "StorePath": "$3", "TrustedRootsFile": "$WORK/pebble-tls.pem" } } }
JSON
}
write_caddyfile() { # file challenge store
  local disable
  case "$2" in
    http-01) disable=disable_tlsalpn_challenge ;;
    tls-alpn-01) disable=disable_http_challenge ;;
  esac
  cat >"$1" <<CADDY
{
  admin off
  skip_install_trust
  http_port $HTTP_PORT
  https_port $HTTPS_PORT
  storage file_system $3
}
$DOMAIN {
  tls {
    issuer acme {
      dir $DIRECTORY
      trusted_roots $WORK/pebble-tls.pem
      email ops@annexedge.test
      $disable
    }
  }
  respond "ok"
}
CADDY
}

# Sets MS: milliseconds from the start of the process to its first verified HTTPS answer, and UP_MS to its first
# plain-HTTP answer; the process is stopped after. (Not a $(...) subshell: the service must be in PIDS for cleanup if this dies.)
# Polls every 25 ms (a curl start is a few ms on this machine), each try bounded to 1 s.
measure() { # path round
  local path=$1 dir="$WORK/$1-$2" url t0 t1 pid
  mkdir -p "$dir/store"
  url="https://$DOMAIN:$HTTPS_PORT/"
  case "$path" in
    edge-http|edge-alpn)
      local challenge=http-01; [ "$path" = edge-alpn ] && challenge=tls-alpn-01
      write_edge_config "$dir/edge.json" "$challenge" "$dir/store"
      url="https://$DOMAIN:$HTTPS_PORT/_annexedge/health"
      t0=$(date +%s%N)
      # shellcheck disable=SC2086 # EDGE_ENV is a list of VAR=value words
      start "$dir/service.log" "$dir" env $EDGE_ENV dotnet "$EDGE_DLL" --config "$dir/edge.json" --urls "http://127.0.0.1:$HTTP_PORT;https://127.0.0.1:$HTTPS_PORT"
      ;;
    caddy-http|caddy-alpn)
      local challenge=http-01; [ "$path" = caddy-alpn ] && challenge=tls-alpn-01
      write_caddyfile "$dir/Caddyfile" "$challenge" "$dir/store"
      t0=$(date +%s%N)
      start "$dir/service.log" "$dir" env HOME="$dir" XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config" \
        caddy run --adapter caddyfile --config "$dir/Caddyfile"
      ;;
  esac
  pid=${PIDS[-1]}
  # First the plain-HTTP listener (any answer, Caddy's is a redirect): start-up apart from ACME.
  while [ "$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/" 2>/dev/null || true)" = 000 ]; do
    kill -0 "$pid" 2>/dev/null || { cp "$dir/service.log" "$WORK/$path-$2.log"; die "$path exited at start-up (round $2)"; }
    sleep 0.025
  done
  UP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  while :; do
    if curl -fsS -o /dev/null --max-time 1 --cacert "$WORK/pebble-root.pem" --resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1" "$url" 2>/dev/null; then
      t1=$(date +%s%N)
      break
    fi
    kill -0 "$pid" 2>/dev/null || { cp "$dir/service.log" "$WORK/$path-$2.log"; die "$path exited before serving a certificate (round $2)"; }
    if [ $(( ($(date +%s%N) - t0) / 1000000000 )) -ge $DEADLINE_SECS ]; then
      cp "$dir/service.log" "$WORK/$path-$2.log"
      die "$path served no verified certificate within $DEADLINE_SECS s (round $2)"
    fi
    sleep 0.025
  done
  # Stop it and wait until the ports are free for the next path.
  kill -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset 'PIDS[-1]'
  cp "$dir/service.log" "$OUT/first-cert-logs/$path-$2.log"
  MS=$(( (t1 - t0) / 1000000 ))
}

PATHS=(edge-http edge-alpn caddy-http caddy-alpn)
mkdir -p "$OUT" && rm -rf "$OUT/first-cert-logs" && mkdir -p "$OUT/first-cert-logs"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS="$WORK/first-cert.tsv"
: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!PATHS[@]}"; do
    path=${PATHS[$(( (i + round - 1) % ${#PATHS[@]} ))]}
    measure "$path" "$round"
    log "round $round: $path $MS ms (HTTP up after $UP_MS ms)"
    printf '%s\t%s\t%s\t%s\n' "$round" "$path" "$MS" "$UP_MS" >>"$RESULTS"
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$RESULTS" "$ROUNDS" "$LOAD_BEFORE" "$LOAD_AFTER" "$EDGE_DLL" "$EDGE_ENV" <<'PY' | tee "$OUT/first-cert-latest.md"
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
by, up = {}, {}
for _, path, ms, up_ms in rows:
    by.setdefault(path, []).append(int(ms))
    up.setdefault(path, []).append(int(up_ms))
order = ["edge-http", "edge-alpn", "caddy-http", "caddy-alpn"]
names = {"edge-http": "AnnexEdge, http-01", "edge-alpn": "AnnexEdge, tls-alpn-01",
         "caddy-http": "Caddy, http-01", "caddy-alpn": "Caddy, tls-alpn-01"}
caddy = {"http": statistics.median(by["caddy-http"]), "alpn": statistics.median(by["caddy-alpn"])}
print(f"Time to first certificate (process start to first verified HTTPS answer), Pebble with PEBBLE_VA_NOSLEEP=1,")
print(f"{sys.argv[2]} rounds, fresh store each start; load average before {sys.argv[3]}, after {sys.argv[4]} (2 cores).")
print(f"Edge: {sys.argv[5]}" + (f" with {sys.argv[6]}" if sys.argv[6] else "") + ".")
print()
print("| Path | first certificate, median ms | min–max ms | ÷ Caddy, same challenge | first plain-HTTP answer, median (min–max) ms |")
print("|---|---:|---:|---:|---:|")
for path in order:
    v, u = by[path], up[path]
    m = statistics.median(v)
    ratio = m / caddy[path.split("-")[1]]
    print(f"| {names[path]} | {m:.0f} | {min(v)}–{max(v)} | {ratio:.2f}× | {statistics.median(u):.0f} ({min(u)}–{max(u)}) |")
print()
print("All rounds, certificate/HTTP (ms): " + "; ".join(f"{names[p]}: {', '.join(f'{a}/{b}' for a, b in zip(by[p], up[p]))}" for p in order))
PY
cp "$RESULTS" "$OUT/first-cert-latest.tsv"
