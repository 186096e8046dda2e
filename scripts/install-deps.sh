#!/usr/bin/env bash
# Installs what AnnexEdge's demo, tests and benchmark need on Debian bookworm:
# git-annex >= 10.20240731 from bookworm-backports, pebble (ACME test server), caddy (benchmark peer), curl,
# chromium (headless, for the status page test).
# Idempotent: does nothing when everything is already there.
set -euo pipefail

need_annex() {
  command -v git-annex >/dev/null 2>&1 || return 0
  local v; v=$(git-annex version --raw 2>/dev/null || echo 0)
  # p2phttp appeared in 10.20240731
  [ "$(printf '%s\n' "10.20240731" "$v" | sort -V | head -1)" = "10.20240731" ] && return 1 || return 0
}

missing=()
need_annex && missing+=(git-annex)
for tool in pebble caddy curl chromium; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/bin/$tool" ] || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

src=/etc/apt/sources.list.d/debian.sources
bp=/etc/apt/sources.list.d/bookworm-backports.sources
if [[ " ${missing[*]} " == *" git-annex "* ]] && [ ! -f "$bp" ]; then
  # Copy the first stanza of the system's own sources with the backports suite, so the mirror stays the operator's.
  awk 'BEGIN{RS="";ORS="\n\n"} NR==1{print; exit}' "$src" \
    | sed -E 's/^Suites:.*/Suites: bookworm-backports/' | $SUDO tee "$bp" >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
for p in "${missing[@]}"; do
  if [ "$p" = git-annex ]; then
    $SUDO apt-get install -y -qq -t bookworm-backports git-annex >/dev/null
  else
    $SUDO apt-get install -y -qq "$p" >/dev/null
  fi
done
git-annex version --raw >/dev/null
