#!/usr/bin/env bash
# The test command: installs what the tests need (git-annex from bookworm-backports, pebble, caddy) when missing,
# then builds and runs every test of the solution in Release. Extra arguments go to `dotnet test`
# (e.g. --filter "Category!=Slow" for a quick local run; CI runs everything).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dotnet test AnnexEdge.sln -c Release --logger "console;verbosity=normal" "$@"
