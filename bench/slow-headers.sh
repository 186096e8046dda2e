#!/usr/bin/env bash
# Resident memory of a Release edge holding N connections in the request-header phase, over HTTP and HTTPS
# (issue 13: each such connection used to pin a 64 KiB Kestrel block). Not a test; prints one line per listener.
#   bench/slow-headers.sh [N] [--warm]   (default 2000; the per-address connection limit is off for the measurement;
#   --warm: 200 clients upload 8 MiB each first, so the blocks handed out have been written before).
#   EDGE_ENV="DOTNET_GCHeapHardLimit=0x8000000" bench/slow-headers.sh 4000   runs the edge under a GC heap limit, as
#   in a container (the GC counts committed memory, so a 64 KiB block counts whole even where RSS does not see it).
set -euo pipefail
n=${1:-2000}
warm=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
dll=$root/src/AnnexEdge/bin/Release/net10.0/AnnexEdge.dll
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/edge.key" -out "$dir/edge.pem" \
  -subj /CN=edge.test -days 2 2>/dev/null
cat > "$dir/annexedge.json" <<JSON
{
  "Serilog": { "MinimumLevel": { "Default": "Warning" } },
  "Kestrel": { "Certificates": { "Default": { "Path": "$dir/edge.pem", "KeyPath": "$dir/edge.key" } } },
  "AnnexEdge": {
    "Repositories": [ { "Name": "unused", "Uuid": "11111111-2222-4333-8444-555555555555", "Backends": [ "http://127.0.0.1:9" ] } ],
    "HealthChecks": { "Enabled": false },
    "Limits": { "MaxConnectionsPerIp": 0, "RequestHeadersTimeout": "00:02:00" }
  }
}
JSON
http=$((20000 + RANDOM % 10000)); https=$((http + 1))
for scheme in http https; do
  env ${EDGE_ENV:-} dotnet "$dll" --config "$dir/annexedge.json" --urls "http://127.0.0.1:$http;https://127.0.0.1:$https" > "${EDGE_LOG:-$dir/edge.log}" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$http/_annexedge/health" > /dev/null && break; sleep 0.2; done
  if [ "$scheme" = http ]; then
    python3 "$root/bench/slow-headers.py" "$pid" "$http" "$n" $warm || echo "http: the client failed (the edge closed its connections)"
  else
    python3 "$root/bench/slow-headers.py" "$pid" "$https" "$n" --tls $warm || echo "https: the client failed (the edge closed its connections)"
  fi
  kill "$pid" 2>/dev/null || echo "the edge had exited: $(grep -m1 -E 'OutOfMemory|Exception' "${EDGE_LOG:-$dir/edge.log}")"
  wait "$pid" 2>/dev/null || true
done
