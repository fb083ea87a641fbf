#!/usr/bin/env bash
# The Docker engine the agent, the lab and the tests talk to (ARCHITECTURE.md,
# "Docker engine"): Debian's docker.io, started by hand rather than by
# systemd, with no bridge and no iptables rules, so that Docker never touches
# the host's networking; containers run with --net none and the agent gives
# them their one interface.
#
#   start   an engine that already answers is left alone, whoever started it;
#           otherwise containerd (if its socket does not answer) and dockerd
#           are started, and this waits until `docker info` answers.
#   stop    stops only what `start` started (pid files below), never another.
#   status  says whether an engine answers and whether it is ours.
#
# Logs and pid files live in /run/leasehold-docker/. Safe to run twice.
set -euo pipefail

STATE=/run/leasehold-docker
CONTAINERD_SOCK=/run/containerd/containerd.sock
START_TIMEOUT=60
STOP_TIMEOUT=30
# Under `npx`, node_modules/.bin comes first; the engine's tools are packaged
# ones (lab/programs.txt), never hand-installed ones in /usr/local.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "docker-engine: $*"; }
die() { echo "docker-engine: $*" >&2; exit 1; }

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }
containerd_answers() { [ -S "$CONTAINERD_SOCK" ] && timeout 5 ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; }

# The PID recorded in $STATE/$1.pid, if that process is alive and still runs
# $1: a recycled PID is never taken for ours.
our_pid() {
  local name=$1 pid
  [ -f "$STATE/$name.pid" ] || return 1
  pid=$(cat "$STATE/$name.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  [ "$(basename "$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -n1)")" = "$name" ] || return 1
  echo "$pid"
}

# Starts $1 (argv…) detached from this shell and its terminal, output to
# $STATE/<name>.log, and records its PID.
launch() {
  local name=$1
  shift
  # setsid: a Ctrl-C in the terminal that ran `make test` must not reach the
  # daemons; no inherited stdout, or a `make test | tee` would never end.
  setsid "$@" </dev/null >>"$STATE/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
}

# Waits until $2 (a command) succeeds, for at most $3 seconds, while the
# process $1 started is alive.
wait_for() {
  local name=$1 probe=$2 seconds=$3 pid deadline
  pid=$(cat "$STATE/$name.pid")
  deadline=$(($(date +%s) + seconds))
  until $probe; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

log_tail() { tail -n 5 "$STATE/$1.log" 2>/dev/null | sed 's/^/    /' >&2 || true; }

# Stops the process recorded for $1, if it is ours: SIGTERM, then SIGKILL.
stop_ours() {
  local name=$1 pid
  if pid=$(our_pid "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((STOP_TIMEOUT * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name (pid $pid) did not stop in ${STOP_TIMEOUT} s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    say "stopped $name (pid $pid)"
  fi
  rm -f "$STATE/$name.pid"
}

start() {
  if engine_answers; then
    if pid=$(our_pid dockerd); then
      say "running (started by lab/docker-engine.sh, dockerd pid $pid)"
    else
      say "an engine already answers (not started by this script): leaving it alone"
    fi
    return 0
  fi
  command -v dockerd >/dev/null && command -v containerd >/dev/null \
    || die "dockerd or containerd is missing: run lab/install-deps.sh (package docker.io)"
  mkdir -p "$STATE"

  if containerd_answers; then
    say "containerd already answers on $CONTAINERD_SOCK: using it"
  elif our_pid containerd >/dev/null; then
    # Ours, alive, but not answering yet (a start interrupted by Ctrl-C).
    wait_for containerd containerd_answers "$START_TIMEOUT" \
      || { log_tail containerd; die "containerd does not answer on $CONTAINERD_SOCK: see $STATE/containerd.log"; }
  else
    say "starting containerd (log $STATE/containerd.log)"
    launch containerd containerd
    if ! wait_for containerd containerd_answers "$START_TIMEOUT"; then
      log_tail containerd
      stop_ours containerd >/dev/null
      die "containerd did not answer on $CONTAINERD_SOCK within ${START_TIMEOUT} s: see $STATE/containerd.log"
    fi
  fi

  if ! our_pid dockerd >/dev/null; then
    say "starting dockerd --bridge=none --iptables=false --ip-forward=false (log $STATE/dockerd.log)"
    launch dockerd dockerd --containerd="$CONTAINERD_SOCK" --bridge=none --iptables=false --ip-forward=false --ip-masq=false
  fi
  if ! wait_for dockerd engine_answers "$START_TIMEOUT"; then
    log_tail dockerd
    stop_ours dockerd >/dev/null
    die "dockerd did not answer \`docker info\` within ${START_TIMEOUT} s: see $STATE/dockerd.log"
  fi
  say "running (dockerd pid $(cat "$STATE/dockerd.pid"), server $(docker version --format '{{.Server.Version}}' 2>/dev/null))"
}

stop() {
  if ! our_pid dockerd >/dev/null && ! our_pid containerd >/dev/null; then
    rm -f "$STATE/dockerd.pid" "$STATE/containerd.pid"
    if engine_answers; then
      say "the running engine was not started by this script: leaving it alone"
    else
      say "not running"
    fi
    return 0
  fi
  # dockerd first: it stops its containers through containerd.
  stop_ours dockerd
  stop_ours containerd
}

status() {
  local who=
  if pid=$(our_pid dockerd); then who="started by lab/docker-engine.sh, dockerd pid $pid"; else who="not started by this script"; fi
  if engine_answers; then
    say "running ($who), server $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
  else
    say "not answering ($who)"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: lab/docker-engine.sh start|stop|status" >&2; exit 2 ;;
esac
