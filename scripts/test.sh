#!/usr/bin/env bash
# The test command: installs what the tests need (git-annex from bookworm-backports, pebble, caddy) when missing,
# then builds and runs every test of the solution in Release. Extra arguments go to `dotnet test`
# (e.g. --filter "Category!=Slow" for a quick local run; CI runs everything).
# A failing run ends by repeating each failed test with its message: CI keeps only the tail of the output.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
log=$(mktemp "${TMPDIR:-/tmp}/annexedge-test.XXXXXX")
trap 'rm -f "$log"' EXIT
status=0
dotnet test AnnexEdge.sln -c Release --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
  echo
  echo "=== failed tests (repeated from above)"
  # A failed test's block runs from its "Failed" line to the next test's result line.
  awk '/^  (Passed|Skipped) /{f=0} /^  Failed /{f=1; n++} f && n<=20' "$log" | cut -c1-400 | head -400 || true
  # Last, so that a tail of the output always names them: each failed test with the start of its message
  # (a message may carry an edge's whole log).
  echo
  echo "=== failed tests, in short"
  awk '/^  (Passed|Skipped) /{f=0} /^  Failed /{f=1; m=0; n++; print; next} f && /^  Error Message:/{m=1; k=0; next}
       f && /^  (Stack Trace|Standard Output Messages):/{m=0} f && m && k++<6' "$log" | cut -c1-300 | head -150 || true
fi
exit "$status"
