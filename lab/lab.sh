#!/usr/bin/env bash
# The Leasehold lab on one machine: a throwaway L2 segment made of network
# namespaces (ARCHITECTURE.md, "The lab"). Every name starts with lh- and
# every address is in 198.18.0.0/15 or fd00::/8; nothing touches the host's
# own interfaces. Safe to run twice: each step checks before it makes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/lab/run
CONFIG=${LEASEHOLD_LAB_CONFIG:-$ROOT/config/leasehold.example.yaml}
SERVER=(node "$ROOT/dist/server/cli/main.js")

CORE=lh-core BRIDGE=spine APPLIANCE=lh-appliance PROBE=lh-probe
APPLIANCE_V4=198.18.0.1/16 APPLIANCE_V6=fd00:198:18::1/64

step_start=0
step() { step_start=$(date +%s%N); printf '%-52s' "• $*"; }
ok() { printf ' ok (%d ms)\n' $(( ($(date +%s%N) - step_start) / 1000000 )); }
die() { printf ' FAILED\nlab: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || echo "lab: step failed (exit $rc); run make lab-down to clean up" >&2' EXIT

have_netns() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
ensure_netns() {
  have_netns "$1" || ip netns add "$1"
  ip -n "$1" link set lo up
}

# Attach netns $1 to the spine: host-side veth $2 in lh-core, eth0 inside $1.
ensure_spine_port() {
  local ns=$1 port=$2 mac=${3:-}
  if ! ip -n "$CORE" link show "$port" >/dev/null 2>&1; then
    ip -n "$CORE" link add "$port" type veth peer name eth0 ${mac:+address "$mac"} netns "$ns"
  fi
  ip -n "$CORE" link set "$port" master "$BRIDGE" up
  ip -n "$ns" link set eth0 up
}

server_pid() { [ -f "$RUN/server.pid" ] && kill -0 "$(cat "$RUN/server.pid")" 2>/dev/null && cat "$RUN/server.pid"; }

up() {
  mkdir -p "$RUN"
  [ -f "$ROOT/dist/server/cli/main.js" ] || die "not built: run make lab-up (it builds first)"

  step "spine: netns $CORE, bridge $BRIDGE"
  ensure_netns "$CORE"
  ip -n "$CORE" link show "$BRIDGE" >/dev/null 2>&1 || ip -n "$CORE" link add "$BRIDGE" type bridge
  ip -n "$CORE" link set "$BRIDGE" up
  ok

  step "appliance: netns $APPLIANCE $APPLIANCE_V4"
  ensure_netns "$APPLIANCE"
  ensure_spine_port "$APPLIANCE" lh-app0
  ip -n "$APPLIANCE" addr replace "$APPLIANCE_V4" dev eth0
  ip -n "$APPLIANCE" -6 addr replace "$APPLIANCE_V6" dev eth0 nodad
  ok

  step "config: $(basename "$CONFIG")"
  "${SERVER[@]}" --config "$CONFIG" --check >/dev/null || die "config $CONFIG is invalid"
  ok

  step "server: leasehold-server in $APPLIANCE"
  if ! server_pid >/dev/null; then
    : >"$RUN/server.log"
    ip netns exec "$APPLIANCE" "${SERVER[@]}" --config "$CONFIG" --store "$RUN/leases.db" >>"$RUN/server.log" 2>&1 &
    echo $! >"$RUN/server.pid"
    for _ in $(seq 100); do
      grep -q '"event":"ready"' "$RUN/server.log" && break
      kill -0 "$(cat "$RUN/server.pid")" 2>/dev/null || die "server exited: $(tail -n 3 "$RUN/server.log")"
      sleep 0.1
    done
    grep -q '"event":"ready"' "$RUN/server.log" || die "server not ready after 10 s: see $RUN/server.log"
  fi
  ok

  step "smoke: udhcpc in $PROBE gets a lease"
  ensure_netns "$PROBE"
  # A fixed MAC, so every lab-up's probe renews the same lease.
  ensure_spine_port "$PROBE" lh-probe0 02:00:c6:12:00:fe
  local got
  got=$(ip netns exec "$PROBE" busybox udhcpc -i eth0 -n -q -f -t 5 -T 1 -s /bin/true -x hostname:lab-probe 2>&1) || die "no lease: $got"
  ok
  echo "$got" | sed -n 's/.*lease of \([0-9.]*\) obtained.*/  probe got \1/p'
  ip netns del "$PROBE"

  cat <<MSG

Lab is up. The segment is bridge $BRIDGE in netns $CORE; the server runs in
$APPLIANCE at ${APPLIANCE_V4%/*} (log: lab/run/server.log, leases: lab/run/leases.db).
  make lab-status                     lease table
  ip netns exec $APPLIANCE bash    a shell on the appliance
  make lab-down                       remove everything
MSG
}

status() {
  echo "namespaces: $(ip netns list | awk '/^lh-/{print $1}' | xargs echo)"
  if pid=$(server_pid); then echo "server: running (pid $pid)"; else echo "server: not running"; fi
  if [ -f "$RUN/leases.db" ]; then
    "${SERVER[@]}" leases --config "$CONFIG" --store "$RUN/leases.db"
  fi
}

down() {
  if pid=$(server_pid); then
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  for ns in $(ip netns list | awk '/^lh-/{print $1}'); do ip netns del "$ns"; done
  rm -rf "$RUN"
  echo "lab: down"
}

case "${1:-}" in
  up) up ;;
  status) status ;;
  down) down ;;
  *) echo "usage: lab/lab.sh up|status|down" >&2; exit 2 ;;
esac
