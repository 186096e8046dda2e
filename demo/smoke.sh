#!/usr/bin/env bash
# Proves the demo works end to end, as a newcomer would meet it: starts `demo/run.sh --detach` in a temporary
# demo directory on a free port, runs the client session it prints, then moves a 5 KB and a 20 MB file through
# the edge (copy --to origin, drop, get, fsck --from origin, drop --from origin) and checks every step against the
# node repositories themselves. Exits non-zero, with the logs, on any failure. Usage: demo/smoke.sh
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/annexedge-smoke.XXXXXX")
demo=$work/demo
export ANNEXEDGE_DEMO_DIR=$demo
# The printed session starts with `cd "$(mktemp -d)"`: keep its clone inside the work directory.
export TMPDIR=$work/tmp
mkdir -p "$TMPDIR"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
while :; do
  PORT=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
  port_in_use "$PORT" || break
done
export PORT

step() { echo; echo "--- smoke: $*"; }
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

finish() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ]; then
    echo >&2
    echo "smoke test failed (exit $rc); logs follow" >&2
    for log in "$demo"/logs/*.log; do
      [ -e "$log" ] || continue
      echo "===== $log" >&2
      tail -n 200 "$log" >&2
    done
    "$repo/demo/run.sh" stop
  fi
  rm -rf "$work"
  exit $rc
}
trap finish EXIT

# Runs a command, showing its output; fails the smoke test with a message if it fails.
run() {
  local what=$1; shift
  "$@" || fail "$what (exit $?): $*"
}

node_has() { git -C "$demo/$1" annex contentlocation "$2" >/dev/null 2>&1; }
here_has() { git annex contentlocation "$1" >/dev/null 2>&1; }
edge_log_count() { grep -cE "$1" "$demo/logs/edge.log" || true; }

step "demo/run.sh --detach (ANNEXEDGE_DEMO_DIR=$demo PORT=$PORT)"
run "demo/run.sh --detach" "$repo/demo/run.sh" --detach | tee "$work/run.out"
annex_url="annex+http://127.0.0.1:$PORT/git-annex/"
grep -qF "annexUrl: $annex_url" "$work/run.out" || fail "run.sh did not print the annexUrl $annex_url"
ok "edge answers and printed $annex_url"
uuid1=$(git -C "$demo/node1" config annex.uuid)
uuid2=$(git -C "$demo/node2" config annex.uuid)

status=$(curl -fsS "http://127.0.0.1:$PORT/_annexedge/status") || fail "GET /_annexedge/status"
available=$(grep -o '"available":true' <<<"$status" | wc -l)
[ "$available" -eq 3 ] || fail "expected 3 available backends (node1 x2, node2 x1), status says: $status"
ok "status lists 3 available backends"

step "the printed client session ($demo/session.sh)"
sed 's/^/    /' "$demo/session.sh"
run "printed session" bash -euo pipefail "$demo/session.sh"
clone=$(ls -d "$TMPDIR"/*/myclone) || fail "the session made no clone"
cd "$clone"
key=$(git annex lookupkey hello.txt) || fail "hello.txt is not annexed in $clone"
here_has "$key" || fail "after the session, hello.txt's content is not in the clone (get failed)"
! node_has node1 "$key" || fail "after the session, node1 still holds $key (drop --from origin failed)"
[ "$(edge_log_count "POST /git-annex/$uuid1/v[0-9]+/put 200")" -ge 1 ] || fail "no put reached node1 through the edge"
[ "$(edge_log_count "GET /git-annex/$uuid1/v[0-9]+/key/$key 200")" -ge 1 ] || fail "the get did not go through the edge"
[ "$(edge_log_count "POST /git-annex/$uuid1/v[0-9]+/remove 200")" -ge 1 ] || fail "the drop --from origin did not go through the edge"
ok "session: uploaded, dropped, got back and removed from origin, all through the edge"

# Moves one file through the edge to a node and back, checking each step in the node's repository.
# A fifth argument names another node, which must not receive the file (the edge routes by repository UUID).
round_trip() {
  local node=$1 uuid=$2 file=$3 size=$4 other=${5:-} key sum puts
  step "$file ($size bytes) to $node"
  head -c "$size" /dev/urandom >"$file"
  sum=$(sha256sum <"$file")
  run "git annex add" git annex add -q "$file"
  run "git commit" git commit -q -m "add $file"
  key=$(git annex lookupkey "$file")

  puts=$(edge_log_count "POST /git-annex/$uuid/v[0-9]+/put 200")
  run "copy --to origin" git annex copy --to origin "$file"
  node_has "$node" "$key" || fail "copy --to origin: $node does not hold $key"
  [ "$(sha256sum <"$(git -C "$demo/$node" annex contentlocation "$key")")" = "$sum" ] \
    || fail "copy --to origin: $node's copy of $key differs"
  [ "$(edge_log_count "POST /git-annex/$uuid/v[0-9]+/put 200")" -gt "$puts" ] || fail "copy --to origin did not put through the edge"
  if [ -n "$other" ]; then
    ! node_has "$other" "$key" || fail "copy --to origin: $other received $key meant for $node"
  fi
  ok "copy --to origin: $node holds the same bytes"

  run "drop" git annex drop "$file"
  ! here_has "$key" || fail "drop: the clone still holds $key"
  ok "drop: the edge confirmed origin's copy and the clone dropped its own"

  run "get" git annex get "$file"
  [ "$(sha256sum <"$file")" = "$sum" ] || fail "get: content differs from what was uploaded"
  [ "$(edge_log_count "GET /git-annex/$uuid/v[0-9]+/key/$key 200")" -ge 1 ] || fail "get did not go through the edge"
  ok "get: same bytes back through the edge"

  run "fsck --from origin" git annex fsck --from origin "$file"
  ok "fsck --from origin"

  run "drop --from origin" git annex drop --from origin "$file"
  ! node_has "$node" "$key" || fail "drop --from origin: $node still holds $key"
  ok "drop --from origin: $node no longer holds it"
}

round_trip node1 "$uuid1" small.bin 5120
round_trip node1 "$uuid1" big.bin $((20 * 1024 * 1024))

step "a second repository behind the same annexUrl"
cd "$TMPDIR"
run "git clone node2" git clone -q "$demo/node2" clone2
cd clone2
git config user.name "AnnexEdge demo"
git config user.email demo@annexedge.invalid
run "git annex init" git annex init -q clone2
git config annex.security.allowed-ip-addresses all
git config remote.origin.annexUrl "$annex_url"
round_trip node2 "$uuid2" other.bin 5120 node1

step "demo/run.sh stop"
run "demo/run.sh stop" "$repo/demo/run.sh" stop
! port_in_use "$PORT" || fail "the edge still listens on $PORT after stop"
[ -z "$(ls -A "$demo/run")" ] || fail "pid files left after stop: $(ls "$demo/run")"
ok "everything stopped"

echo
echo "smoke test passed"
