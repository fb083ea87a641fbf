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

CORE=lh-core BRIDGE=spine APPLIANCE=lh-appliance DNS=lh-dns PROBE=lh-probe
APPLIANCE_V4=198.18.0.1/16 APPLIANCE_V6=fd00:198:18::1/64
DNS_V4=198.18.0.2/16 DNS_V6=fd00:198:18::2/64
# The TSIG key name config/leasehold.example.yaml names.
DDNS_KEY_NAME=leasehold-ddns

step_start=0
step() { step_start=$(date +%s%N); printf '%-60s' "• $*"; }
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
named_pid() { [ -f "$RUN/named/named.pid" ] && kill -0 "$(cat "$RUN/named/named.pid")" 2>/dev/null && cat "$RUN/named/named.pid"; }
dig_lab() { ip netns exec "$DNS" dig @"${DNS_V4%/*}" +short +time=1 +tries=1 "$@"; }

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

  step "dns: named in $DNS ${DNS_V4}, fresh TSIG key"
  ensure_netns "$DNS"
  ensure_spine_port "$DNS" lh-dns0
  ip -n "$DNS" addr replace "$DNS_V4" dev eth0
  ip -n "$DNS" -6 addr replace "$DNS_V6" dev eth0 nodad
  if ! named_pid >/dev/null; then
    mkdir -p "$RUN/named"
    [ -f "$RUN/ddns.key" ] || tsig-keygen -a hmac-sha256 "$DDNS_KEY_NAME" >"$RUN/ddns.key"
    node "$ROOT/dist/lab/bind-config.js" "$RUN/named" "${DNS_V4%/*}" "$RUN/ddns.key"
    ip netns exec "$DNS" named -4 -c "$RUN/named/named.conf" -L "$RUN/named/named.log" || die "named did not start: see $RUN/named/named.log"
  fi
  for _ in $(seq 50); do dig_lab leasehold.test SOA >/dev/null 2>&1 && break; sleep 0.1; done
  dig_lab leasehold.test SOA | grep -q . || die "named does not answer: see $RUN/named/named.log"
  ok

  step "config: $(basename "$CONFIG"), key file lab/run/ddns.key"
  # The lab's copy of the config reads the key generated above, beside it.
  sed 's#secretFile: /etc/leasehold/ddns.key#secretFile: ddns.key#' "$CONFIG" >"$RUN/leasehold.yaml"
  "${SERVER[@]}" --config "$RUN/leasehold.yaml" --check >/dev/null || die "config $CONFIG is invalid"
  ok

  step "server: leasehold-server in $APPLIANCE"
  if ! server_pid >/dev/null; then
    : >"$RUN/server.log"
    ip netns exec "$APPLIANCE" "${SERVER[@]}" --config "$RUN/leasehold.yaml" --store "$RUN/leases.db" >>"$RUN/server.log" 2>&1 &
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
  local got ip
  got=$(ip netns exec "$PROBE" busybox udhcpc -i eth0 -n -q -f -t 5 -T 1 -s /bin/true -x hostname:lab-probe 2>&1) || die "no lease: $got"
  ip=$(echo "$got" | sed -n 's/.*lease of \([0-9.]*\) obtained.*/\1/p')
  ok

  step "smoke: lab-probe.lab.leasehold.test is in DNS"
  local name=lab-probe.lab.leasehold.test a=
  for _ in $(seq 50); do a=$(dig_lab "$name" A); [ "$a" = "$ip" ] && break; sleep 0.1; done
  [ "$a" = "$ip" ] || die "$name A is '$a', expected $ip (see lab/run/server.log)"
  ok
  printf '  %-30s A %s  AAAA %s  PTR %s\n' "$name" "$a" "$(dig_lab "$name" AAAA)" "$(dig_lab -x "$ip" PTR)"

  step "smoke: the probe forms its SLAAC address from our RA"
  local v6=
  for _ in $(seq 100); do
    v6=$(ip -n "$PROBE" -6 -o addr show dev eth0 scope global | awk '{print $4}' | head -n1)
    [ -n "$v6" ] && break
    sleep 0.1
  done
  [ -n "$v6" ] || die "no SLAAC address on the probe after 10 s (see lab/run/server.log)"
  ok
  printf '  probe eth0 %s, default route %s\n' "$v6" "$(ip -n "$PROBE" -6 route show default | awk '{print $3; exit}')"
  [ "${v6%/*}" = "$(dig_lab "$name" AAAA)" ] || die "the probe's SLAAC address ${v6%/*} is not what DNS has for $name"
  ip netns del "$PROBE"

  cat <<MSG

Lab is up. The segment is bridge $BRIDGE in netns $CORE; the server runs in
$APPLIANCE at ${APPLIANCE_V4%/*} (log: lab/run/server.log, leases: lab/run/leases.db),
BIND in $DNS at ${DNS_V4%/*} (zone leasehold.test, key lab/run/ddns.key).
  make lab-status                     lease table
  ip netns exec $APPLIANCE bash    a shell on the appliance
  make lab-down                       remove everything
MSG
}

status() {
  echo "namespaces: $(ip netns list | awk '/^lh-/{print $1}' | xargs echo)"
  if pid=$(server_pid); then echo "server: running (pid $pid)"; else echo "server: not running"; fi
  if pid=$(named_pid); then echo "named: running (pid $pid)"; else echo "named: not running"; fi
  if [ -f "$RUN/leases.db" ]; then
    "${SERVER[@]}" leases --config "$RUN/leasehold.yaml" --store "$RUN/leases.db"
  fi
}

down() {
  if pid=$(server_pid); then
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  if pid=$(named_pid); then
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
