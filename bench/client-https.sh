#!/usr/bin/env bash
# One large object moved by a real `git annex` client (issue 17, "a client over HTTPS end to end"), on three paths
# to the same `git annex p2phttp --jobs 4` node, measured in turn in every round (each round starting one path
# further):
#   - direct: the client talks plain HTTP to the node (annex+http://NODE/git-annex/),
#   - edge: the client talks plain HTTP to AnnexEdge (Release, Serilog Warning), the edge plain HTTP to the node,
#   - edge-https: the client talks HTTPS to the same edge process (a self-signed ECDSA P-256 certificate from
#     make_certificate, as bench/run.sh serves it), the edge plain HTTP to the node,
#   - edge-https-chacha: the same over a second edge process started with OPENSSL_CONF naming a file with
#     `Options = PrioritizeChaCha`: OpenSSL then gives ChaCha20-Poly1305 to a client that lists it first, and still
#     AES-GCM to the others (as Go's TLS server does). git-annex's client lists ChaCha20-Poly1305 first, but a default
#     edge answers with its own first choice, TLS_AES_256_GCM_SHA384, which git-annex's TLS library is slow at.
# git-annex's client (http-client-tls, x509-system) trusts the system store only; SYSTEM_CERTIFICATE_PATH, which
# x509-system reads instead of /etc/ssl/certs, points it at the benchmark's certificate alone (SSL_CERT_FILE,
# GIT_SSL_CAINFO and http.sslCAInfo are not read by it). Nothing on the machine is changed.
# GET: `git annex get --from R` after the local copy was dropped (untimed); PUT: `git annex copy --to R`, then the
# node's copy is dropped (untimed, direct) so every PUT stores it again. annex.verify is off on the client and the
# node, so a figure is the transfer, not the same SHA-256 pass on every path. Wall time, and CPU time of the edge,
# the node and the client (utime+stime, the client's with its children) per operation.
#
# usage: bench/client-https.sh [--rounds N] [--mib N] [--quick]
#   --quick  smoke run: 2 rounds of 64 MiB
# Prints a markdown report and writes it to bench/results/client-https-latest.md (raw figures in
# client-https-latest.tsv).
set -euo pipefail

ROUNDS=5 MIB=256
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --mib) MIB=${2:?}; shift 2 ;;
    --quick) ROUNDS=2 MIB=64; shift ;;
    *) sed -n '2,24s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/lib.sh"
bench_init client-https
TICK_MS=$(awk -v t="$(getconf CLK_TCK)" 'BEGIN {print 1000 / t}')
need git-annex "apt-get install git-annex"
need curl "apt-get install curl"
need dotnet "the .NET 10 SDK"
need python3 "apt-get install python3"
need openssl "apt-get install openssl"

build_edge
make_certificate
export SYSTEM_CERTIFICATE_PATH="$WORK/tls/cert.pem"

log "creating the node's repository with a $MIB MiB object, and the client's with another"
git init -q -b main "$WORK/node"
(
  cd "$WORK/node"
  git annex init -q node
  git config annex.verify false
  git config receive.denyCurrentBranch updateInstead
  head -c "${MIB}M" /dev/urandom >get.bin
  git annex add -q get.bin
  git commit -q -m get
)
UUID=$(git -C "$WORK/node" config annex.uuid)
NODE_PORT=$(free_port)
start "$WORK/node.log" "$WORK/node" git-annex p2phttp --bind 127.0.0.1 --port "$NODE_PORT" --jobs 4 --wideopen
NODE_PID=${PIDS[-1]}

cat >"$WORK/edge.json" <<JSON
{ "AnnexEdge": {
    "Repositories": [ { "Name": "node", "Uuid": "$UUID", "Backends": [ "http://127.0.0.1:$NODE_PORT" ] } ],
    "Anonymous": { "*": "full" },
    "Limits": { "RequestsPerSecondPerIp": 0 },
    "Locking": { "TokenKey": "$(head -c 32 /dev/urandom | base64)" } },
  "Serilog": { "MinimumLevel": { "Default": "Warning" } } }
JSON
EDGE_PORT=$(free_port)
EDGE_TLS_PORT=$(free_port)
start "$WORK/edge.log" "$WORK" dotnet "$EDGE_DLL" --config "$WORK/edge.json" \
  --urls "http://127.0.0.1:$EDGE_PORT;https://127.0.0.1:$EDGE_TLS_PORT" \
  --Kestrel:Certificates:Default:Path="$WORK/tls/cert.pem" --Kestrel:Certificates:Default:KeyPath="$WORK/tls/key.pem"
EDGE_PID=${PIDS[-1]}
cat >"$WORK/chacha.cnf" <<'CNF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Options = PrioritizeChaCha
CNF
CHACHA_PORT=$(free_port)
start "$WORK/edge-chacha.log" "$WORK" env OPENSSL_CONF="$WORK/chacha.cnf" dotnet "$EDGE_DLL" --config "$WORK/edge.json" \
  --urls "https://127.0.0.1:$CHACHA_PORT" \
  --Kestrel:Certificates:Default:Path="$WORK/tls/cert.pem" --Kestrel:Certificates:Default:KeyPath="$WORK/tls/key.pem"
CHACHA_PID=${PIDS[-1]}

wait_for "git annex p2phttp" curl -sf -X POST "http://127.0.0.1:$NODE_PORT/git-annex/$UUID/v4/gettimestamp?clientuuid=$CLIENT"
wait_for "AnnexEdge" curl -sf -X POST "http://127.0.0.1:$EDGE_PORT/git-annex/$UUID/v4/gettimestamp?clientuuid=$CLIENT"
wait_for "AnnexEdge over HTTPS" curl -sf -X POST "https://127.0.0.1:$EDGE_TLS_PORT/git-annex/$UUID/v4/gettimestamp?clientuuid=$CLIENT"
wait_for "AnnexEdge preferring ChaCha20" curl -sf -X POST "https://127.0.0.1:$CHACHA_PORT/git-annex/$UUID/v4/gettimestamp?clientuuid=$CLIENT"
# The cipher an HTTPS edge chooses for a client that lists these TLS 1.3 suites in this order.
negotiated() { # port suites
  openssl s_client -connect "127.0.0.1:$1" -CAfile "$WORK/tls/cert.pem" -ciphersuites "$2" </dev/null 2>/dev/null |
    awk '/Cipher is/ {print $NF; exit}'
}
# git-annex's order (its TLS library's default), and one that puts AES-GCM first (curl's, a browser's with AES-NI).
ANNEX_ORDER=TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384
AES_ORDER=TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256
CIPHER_DEFAULT=$(negotiated "$EDGE_TLS_PORT" "$ANNEX_ORDER")
CIPHER_CHACHA=$(negotiated "$CHACHA_PORT" "$ANNEX_ORDER")
CIPHER_CHACHA_AES=$(negotiated "$CHACHA_PORT" "$AES_ORDER")
log "cipher for git-annex's order: default edge $CIPHER_DEFAULT, PrioritizeChaCha edge $CIPHER_CHACHA" \
  "(for an AES-first client: $CIPHER_CHACHA_AES)"

# One client repository, one remote per path, all the same node repository (the same UUID): only annexUrl differs.
PATHS=(direct edge edge-https edge-https-chacha)
declare -A URL=(
  [direct]="annex+http://127.0.0.1:$NODE_PORT/git-annex/"
  [edge]="annex+http://127.0.0.1:$EDGE_PORT/git-annex/"
  [edge-https]="annex+https://127.0.0.1:$EDGE_TLS_PORT/git-annex/"
  [edge-https-chacha]="annex+https://127.0.0.1:$CHACHA_PORT/git-annex/"
)
declare -A PID=([direct]=$EDGE_PID [edge]=$EDGE_PID [edge-https]=$EDGE_PID [edge-https-chacha]=$CHACHA_PID)
git clone -q "$WORK/node" "$WORK/client" 2>/dev/null
cd "$WORK/client"
git annex init -q client
git config annex.verify false
git config annex.security.allowed-ip-addresses all
for p in "${PATHS[@]}"; do
  git remote add "$p" "$WORK/node"
  git config "remote.$p.annexUrl" "${URL[$p]}"
done
git remote remove origin
git annex sync -q --no-content --no-push direct >/dev/null 2>&1 || true
head -c "${MIB}M" /dev/urandom >put.bin
git annex add -q put.bin
git commit -q -m put

# Runs a git-annex command, prints "seconds client-cpu-ms".
timed() {
  local TIMEFORMAT='%R %U %S' t
  t=$({ time "$@" >"$WORK/op.log" 2>&1; } 2>&1) || die "$*: $(tail -5 "$WORK/op.log")"
  awk '{printf "%s %.0f", $1, ($2 + $3) * 1000}' <<<"$t"
}
present_here() { [ -n "$(git annex find --in here "$1")" ]; }
measure() { # op path -> appends "op path round secs client-ms edge-ticks node-ticks" to the tsv
  local op=$1 p=$2 e0 n0 r
  settle
  e0=$(ticks "${PID[$p]}"); n0=$(ticks "$NODE_PID")
  case "$op" in
    get) r=$(timed git annex get -q --from "$p" get.bin); present_here get.bin || die "GET via $p: get.bin did not arrive" ;;
    put) r=$(timed git annex copy -q --to "$p" put.bin) ;;
  esac
  echo "$op $p $round $r $(($(ticks "${PID[$p]}") - e0)) $(($(ticks "$NODE_PID") - n0))" >>"$TSV"
  log "round $round $op via $p: ${r% *} s"
  # Undo it, untimed: the next GET must fetch, the next PUT must store.
  case "$op" in
    get) git annex drop -q --force get.bin ;;
    put)
      [ -e "$WORK/node/.git/annex/objects/$(git annex examinekey --format='${hashdirmixed}${key}/${key}' "$(git annex lookupkey put.bin)")" ] \
        || die "PUT via $p: the node has no put.bin"
      git annex drop -q --force --from direct put.bin ;;
  esac
}

TSV="$WORK/client-https.tsv"
: >"$TSV"
git annex get -q --from direct get.bin || die "the first get of get.bin failed"
git annex drop -q --force get.bin
log "warming up every path"
round=0
for p in "${PATHS[@]}"; do measure get "$p"; measure put "$p"; done
: >"$TSV"
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$ROUNDS"); do
  shift_by=$(( (round - 1) % ${#PATHS[@]} ))
  ORDER=("${PATHS[@]:shift_by}" "${PATHS[@]:0:shift_by}")
  for p in "${ORDER[@]}"; do measure get "$p"; done
  for p in "${ORDER[@]}"; do measure put "$p"; done
done
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)
cd "$ROOT"

mkdir -p "$OUT"
cp "$TSV" "$OUT/client-https-latest.tsv"
python3 - "$TSV" "$TICK_MS" "$MIB" "$ROUNDS" "$LOADAVG" "$LOADAVG_END" "$(git -C "$ROOT" rev-parse --short HEAD)" \
  "$CIPHER_DEFAULT" "$CIPHER_CHACHA" "$CIPHER_CHACHA_AES" >"$OUT/client-https-latest.md" <<'PY'
import statistics, sys
tsv, tick_ms, mib, rounds, load0, load1, commit, cipher, cipher_chacha, cipher_chacha_aes = sys.argv[1:11]
tick_ms = float(tick_ms)
fig = {}
for line in open(tsv):
    op, path, _, secs, client_ms, edge, node = line.split()
    fig.setdefault((op, path), []).append((float(secs), float(client_ms), int(edge) * tick_ms, int(node) * tick_ms))
def med(op, path, i):
    return statistics.median(v[i] for v in fig[(op, path)])
def cell(op, path, i, fmt):
    vs = [v[i] for v in fig[(op, path)]]
    return f"{fmt % statistics.median(vs)} ({fmt % min(vs)}–{fmt % max(vs)})"
print(f"# A real git-annex client, {mib} MiB, {rounds} rounds, at {commit}\n")
print(f"Load average {load0} at the start, {load1} at the end. Median (min–max); CPU in ms per operation.")
print(f"Cipher for git-annex's client: edge-https {cipher}, edge-https-chacha {cipher_chacha} (which gives an AES-first")
print(f"client {cipher_chacha_aes}). The direct path's edge CPU is the idle edge's.\n")
print("| operation | path | wall s | speed vs edge HTTP | edge CPU | client CPU | node CPU |")
print("|---|---|---|---|---|---|---|")
for op in ["get", "put"]:
    for path in ["direct", "edge", "edge-https", "edge-https-chacha"]:
        if (op, path) not in fig:
            continue
        ratio = med(op, "edge", 0) / med(op, path, 0)
        edge = cell(op, path, 2, "%.0f")
        print(f"| {op.upper()} | {path} | {cell(op, path, 0, '%.2f')} | {ratio:.2f} | {edge} | {cell(op, path, 1, '%.0f')} | {cell(op, path, 3, '%.0f')} |")
PY
cat "$OUT/client-https-latest.md"
