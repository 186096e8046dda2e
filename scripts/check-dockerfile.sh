#!/usr/bin/env bash
# Checks the Dockerfile without a Docker engine: builds the context the way .dockerignore filters it, replays the
# build stage's WORKDIR/COPY/RUN lines (its `dotnet publish` included) in a temporary root, copies the result as
# the runtime stage's `COPY --from=build` does, and runs `check-config` on config/annexedge.example.json with the
# binary the ENTRYPOINT names. Also checks that the runtime stage runs as a non-root USER.
# Usage: scripts/check-dockerfile.sh [Dockerfile]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dockerfile=${1:-$repo/Dockerfile}
cd "$repo"

fail() { echo "check-dockerfile: $*" >&2; exit 1; }
say() { echo "check-dockerfile: $*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/annexedge-dockerfile.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The image's build starts with an empty NuGet cache: so does this one, or a package that only this machine's cache
# holds (a runtime pack a test or an earlier publish fetched) hides a restore that would fail in Docker.
export NUGET_PACKAGES=$work/nuget
context=$work/context build_root=$work/build runtime_root=$work/runtime
mkdir -p "$context" "$build_root" "$runtime_root"

# .dockerignore as Docker reads it: the last pattern matching a path or one of its parent directories decides;
# `*` and `?` stay within one path component, `**` crosses them, `!` re-includes.
ignore_patterns=()
if [ -f .dockerignore ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%%#*}
    line=$(echo "$line" | sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//; s#/+$##; s#^/##')
    [ -n "$line" ] && ignore_patterns+=("$line")
  done <.dockerignore
fi

pattern_regex() {
  local p=$1 out="" c
  while [ -n "$p" ]; do
    case "$p" in
      '**/'*) out+='(.*/)?'; p=${p:3} ;;
      '**'*) out+='.*'; p=${p:2} ;;
      '*'*) out+='[^/]*'; p=${p:1} ;;
      '?'*) out+='[^/]'; p=${p:1} ;;
      *) c=${p:0:1}; p=${p:1}
         case "$c" in [.+^\$\(\)\{\}\|\[\]\\]) out+="\\$c" ;; *) out+=$c ;; esac ;;
    esac
  done
  echo "^$out\$"
}

regexes=() negated=()
for p in "${ignore_patterns[@]}"; do
  if [ "${p:0:1}" = "!" ]; then negated+=(1); p=${p:1}; else negated+=(0); fi
  regexes+=("$(pattern_regex "$p")")
done

included() {
  local path=$1 keep=1 i prefix rest
  for i in "${!regexes[@]}"; do
    prefix="" rest=$path
    while :; do
      prefix+=${rest%%/*}
      if [[ $prefix =~ ${regexes[$i]} ]]; then
        [ "${negated[$i]}" = 1 ] && keep=1 || keep=0
        break
      fi
      [[ $rest == */* ]] || break
      rest=${rest#*/} prefix+=/
    done
  done
  [ $keep = 1 ]
}

# The context: files git knows about (a clean clone's view, plus new files not ignored), minus .dockerignore.
count=0
while IFS= read -r -d '' file; do
  [ -f "$file" ] || continue
  if included "$file"; then
    mkdir -p "$context/$(dirname "$file")"
    cp -p "$file" "$context/$file"
    count=$((count + 1))
  fi
done < <(git ls-files -z -co --exclude-standard)
say "build context: $count files after .dockerignore"

# Splits the Dockerfile into stages; refuses forms this replay does not understand.
grep -qE '\\[[:space:]]*$' "$dockerfile" && fail "line continuations are not supported here: keep one instruction per line"
stage=-1 stage_lines=()
while IFS= read -r line || [ -n "$line" ]; do
  [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
  if [[ $line =~ ^FROM[[:space:]] ]]; then
    stage=$((stage + 1))
    stage_lines[stage]=""
  fi
  [ $stage -ge 0 ] || fail "instruction before the first FROM: $line"
  stage_lines[stage]+="$line"$'\n'
done <"$dockerfile"
[ $stage -ge 1 ] || fail "expected a build stage and a runtime stage"

# Copies SRC... to DEST the way COPY does: a directory's contents, or files into a directory.
copy_into() {
  local from_root=$1 to_root=$2 workdir=$3; shift 3
  local args=("$@")
  local dest=${args[-1]} sources=("${args[@]:0:${#args[@]}-1}") src match target matches
  [ "${dest:0:1}" = / ] && target=$to_root$dest || target=$to_root$workdir/$dest
  for src in "${sources[@]}"; do
    [ "${src:0:1}" = / ] && src=${src:1}
    mapfile -t matches < <(cd "$from_root" && { compgen -G "$src" || true; })
    [ ${#matches[@]} -gt 0 ] || fail "COPY $src: not in the build context (missing, or excluded by .dockerignore)"
    for match in "${matches[@]}"; do
      if [ -d "$from_root/$match" ]; then
        mkdir -p "$target"
        cp -a "$from_root/$match/." "$target/"
      elif [[ $dest == */ || ${#sources[@]} -gt 1 ]]; then
        mkdir -p "$target"
        cp -a "$from_root/$match" "$target/"
      else
        mkdir -p "$(dirname "$target")"
        cp -a "$from_root/$match" "$target"
      fi
    done
  done
}

# Build stage: WORKDIR, COPY and RUN replayed; absolute output paths (-o /x) land in the temporary root.
workdir=/
while IFS= read -r line; do
  [ -n "$line" ] || continue
  read -r instruction rest <<<"$line"
  case "$instruction" in
    FROM|ARG|ENV|LABEL) ;;
    WORKDIR)
      [ "${rest:0:1}" = / ] && workdir=$rest || workdir=$workdir/$rest
      mkdir -p "$build_root$workdir" ;;
    COPY)
      read -r -a words <<<"$rest"
      [[ ${words[0]} == --* ]] && fail "COPY options are not replayed in the build stage: $line"
      copy_into "$context" "$build_root" "$workdir" "${words[@]}" ;;
    RUN)
      command=$(sed -E "s#(^|[[:space:]])(-o|--output)[[:space:]]+/#\\1\\2 $build_root/#g" <<<"$rest")
      say "RUN $rest"
      (cd "$build_root$workdir" && bash -euo pipefail -c "$command") || fail "RUN failed: $rest" ;;
    *) fail "instruction not replayed in the build stage: $line" ;;
  esac
done <<<"${stage_lines[0]}"

# Runtime stage: the files copied from the build stage, the user, and the entry point.
runtime=${stage_lines[$stage]}
workdir=/ user="" entry="" health="" openssl_conf=""
while IFS= read -r line; do
  [ -n "$line" ] || continue
  read -r instruction rest <<<"$line"
  case "$instruction" in
    WORKDIR) [ "${rest:0:1}" = / ] && workdir=$rest || workdir=$workdir/$rest ;;
    COPY)
      read -r -a words <<<"$rest"
      [[ ${words[0]} == --from=* ]] || fail "the runtime stage copies only from the build stage: $line"
      copy_into "$build_root" "$runtime_root" "$workdir" "${words[@]:1}" ;;
    USER) user=$rest ;;
    ENTRYPOINT) entry=$rest ;;
    HEALTHCHECK) health=$rest ;;
    ENV) [[ $rest =~ ^OPENSSL_CONF=(.+)$ ]] && openssl_conf=${BASH_REMATCH[1]} ;;
  esac
done <<<"$runtime"

# OpenSSL silently goes without a configuration file that is not there: the published one must be where ENV says.
if [ -n "$openssl_conf" ]; then
  [ -f "$runtime_root$openssl_conf" ] || fail "ENV OPENSSL_CONF names $openssl_conf, which is not in the image"
  say "OPENSSL_CONF $openssl_conf is in the image"
fi

case "$user" in
  ""|root|0|0:*|root:*) fail "the runtime stage must switch to a non-root USER" ;;
esac
[[ $entry =~ ^\[\"dotnet\",[[:space:]]*\"(/[^\"]+\.dll)\"\]$ ]] || fail "ENTRYPOINT is not [\"dotnet\", \"/path/App.dll\"]: $entry"
dll=$runtime_root${BASH_REMATCH[1]}
[ -f "$dll" ] || fail "the ENTRYPOINT's ${BASH_REMATCH[1]} is not in the image (looked for $dll)"

entry_dll=${BASH_REMATCH[1]}

say "dotnet $entry_dll check-config --config config/annexedge.example.json"
dotnet "$dll" check-config --config config/annexedge.example.json || fail "check-config failed with the published binary"

# The HEALTHCHECK runs the published binary's own healthcheck subcommand (the runtime image has no curl).
[[ $health =~ CMD\ \[\"dotnet\",\ \"$entry_dll\",\ \"healthcheck\",\ \"(http://[^\"]+)\"\]$ ]] \
  || fail "HEALTHCHECK is not CMD [\"dotnet\", \"$entry_dll\", \"healthcheck\", \"http://...\"]: $health"
say "dotnet $entry_dll healthcheck (against a port nothing listens on: must fail with 1)"
status=0
dotnet "$dll" healthcheck "http://127.0.0.1:9/_annexedge/health" >/dev/null 2>&1 || status=$?
[ "$status" = 1 ] || fail "the published binary's healthcheck subcommand exited $status against a closed port, not 1"
say "ok"
