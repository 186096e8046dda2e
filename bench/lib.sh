# Helpers shared by bench/run.sh and bench/cluster.sh; sourced after each defines log() and die().
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Each service gets its own process group (setsid execs in place, so $! is the service itself and the group id),
# so cleanup ends it with everything it spawned.
start() { # logfile dir command...
  local logfile=$1 dir=$2; shift 2
  (cd "$dir" && exec setsid "$@" >"$logfile" 2>&1) &
  PIDS+=("$!")
}
wait_for() { # what command...
  local what=$1; shift
  for _ in $(seq 1 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "$what did not come up"
}
kib_to_mib() { awk '{printf "%.0f", $1/1024}'; }
proc_kib() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }
# utime+stime in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Before every measurement: the objects a PUT stored (up to 3 GiB after a 1 GiB fan-out) are written back to disk
# first, so that writeback does not run during, and slow, whichever measurement comes next.
settle() { sync; sleep 0.5; }
