#!/usr/bin/env bash
# Gives one machine — a Vagrant VM (vagrant/Vagrantfile), or any Debian 12
# machine on a spare L2 segment — one role of the Leasehold lab, with the
# same role functions lab/lab.sh uses (lab/roles.sh), in the machine's own
# network namespace and on a real NIC instead of a veth into a namespace:
#
#   appliance  named (198.18.0.2/16, fd00:198:18::2/64) and the leasehold
#              server (198.18.0.1/16, fd00:198:18::1/64), both on the NIC
#   worker     bridge br0 with the NIC as its uplink and the worker's
#              address (--ip) on br0, `agent watch --worker NAME`, the
#              Docker engine and the lab's images
#
#   lab/provision.sh appliance [--iface IF | --mac MAC] [--config-edits FILE] [--run DIR] [--check]
#   lab/provision.sh worker --name NAME --ip V4[/LEN] [--iface IF | --mac MAC] [--run DIR] [--check]
#
# --check only checks the arguments, prints what would be done and exits 0:
# nothing is installed or changed (the integration suite uses it).
#
# The server's config is the lab's, built for this machine by
# lab/server-config.ts (the NIC's name, the addresses below, the key);
# --config-edits FILE changes it: a YAML or JSON mapping of
# dotted.path: value (e.g. `subnets.0.leaseTime: 600`).
#
# The NIC on the lab's segment ("the private NIC"): --iface names it;
# --mac finds the NIC with that MAC (the Vagrantfile gives each VM's private
# NIC a fixed one); with neither, it is the one NIC (a device under
# /sys/class/net with a `device` link: no bridge, veth or loopback) that
# does not carry the default route and has no IPv4 address outside
# 198.18.0.0/15 — the lab's own addresses from an earlier run are allowed,
# so provisioning again finds the same NIC. No candidate, or more than one,
# is an error that names them: give --iface. The NIC carrying the default
# route (Vagrant's NAT or management NIC, its SSH path) is never touched.
#
# Before the role: Node.js 20 (Debian 12 has 18; NodeSource's apt
# repository only when no node >= 20 is there), lab/install-deps.sh
# (without the packages only tests use), `make install` (builds, and links
# `agent` and `leasehold-server` into /usr/local/bin). Daemons are started so that they
# outlive the provisioning shell: as transient systemd units
# leasehold-<name> (systemd-run) when systemd is PID 1, else in their own
# session like lab/lab.sh. State, logs and pid files go to --run
# (default /var/lib/leasehold-lab). Safe to run again: each step checks
# before it makes, and running daemons are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# Packaged programs only (lab/programs.txt), as the agent's SYSTEM_PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive

APPLIANCE_V4=198.18.0.1/16 APPLIANCE_V6=fd00:198:18::1/64
DNS_V4=198.18.0.2/16 DNS_V6=fd00:198:18::2/64
# The TSIG key BIND accepts updates with and the server signs them with.
DDNS_KEY_NAME=leasehold-ddns
NODE_MAJOR=20

usage() {
  cat >&2 <<'USAGE'
usage: lab/provision.sh appliance [--iface IF | --mac MAC] [--config-edits FILE] [--run DIR] [--check]
       lab/provision.sh worker --name NAME --ip V4[/LEN] [--iface IF | --mac MAC] [--run DIR] [--check]
USAGE
  exit 2
}

step_name=arguments
step() { step_name="$*"; echo "provision: $*"; }
die() { echo "provision: step \"$step_name\" failed: $*" >&2; exit 1; }

role=${1:-}
[ "$role" = appliance ] || [ "$role" = worker ] || usage
shift
IFACE='' MAC='' NAME='' IP='' CONFIG_EDITS='' RUN=/var/lib/leasehold-lab CHECK=false
while [ "$#" -gt 0 ]; do
  if [ "$1" = --check ]; then CHECK=true; shift; continue; fi
  if [ "$#" -lt 2 ] || [[ $2 == --* ]]; then usage; fi
  case "$1" in
    --iface) IFACE=$2 ;;
    --mac) MAC=$(tr 'A-F' 'a-f' <<<"$2") ;;
    --name) NAME=$2 ;;
    --ip) IP=$2 ;;
    --config-edits) CONFIG_EDITS=$(readlink -f "$2") ;;
    --run) RUN=$(readlink -m "$2") ;;
    *) usage ;;
  esac
  shift 2
done
if [ "$role" = worker ]; then
  if [ -z "$NAME" ] || [ -z "$IP" ]; then usage; fi
  [[ $IP == */* ]] || IP=$IP/16
  [[ $IP =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/[0-9]+$ ]] || die "--ip $IP is not an IPv4 address"
  [[ $NAME =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "--name $NAME: letters, digits, . _ - only"
fi
if [ -n "$MAC" ] && ! [[ $MAC =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]]; then die "--mac $MAC is not a MAC address"; fi
[ -z "$CONFIG_EDITS" ] || [ -f "$CONFIG_EDITS" ] || die "--config-edits $CONFIG_EDITS: no such file"
if $CHECK; then
  nic=${IFACE:-${MAC:+the NIC with MAC $MAC}}
  case "$role" in
    appliance) echo "provision: would make this machine the appliance on ${nic:-the one spare NIC}, state in $RUN" ;;
    worker) echo "provision: would make this machine worker $NAME (${IP%/*}) on ${nic:-the one spare NIC}, state in $RUN" ;;
  esac
  exit 0
fi
[ "$(id -u)" = 0 ] || die "run as root (Vagrant's shell provisioner does)"
if [ -d /run/systemd/system ]; then export DAEMON_MODE=systemd; else export DAEMON_MODE=setsid; fi
# shellcheck source=lab/roles.sh
. "$ROOT/lab/roles.sh"

# ---- the private NIC --------------------------------------------------------

is_nic() { [ -e "/sys/class/net/$1/device" ]; }

# Only addresses of the lab's own (198.18.0.0/15) or none at all.
only_lab_v4() {
  local a
  for a in $(ip -4 -o addr show dev "$1" | awk '{print $4}'); do
    [[ $a == 198.18.* || $a == 198.19.* ]] || return 1
  done
  return 0
}

find_iface() {
  local dev name found=() default_dev
  if [ -n "$IFACE" ]; then
    [ -e "/sys/class/net/$IFACE" ] || die "--iface $IFACE: no such interface"
    echo "$IFACE"
    return
  fi
  if [ -n "$MAC" ]; then
    # NICs only: a bridge takes its port's MAC, so br0 would match too.
    for dev in /sys/class/net/*; do
      name=${dev##*/}
      is_nic "$name" && [ "$(cat "$dev/address")" = "$MAC" ] && found+=("$name")
    done
    [ "${#found[@]}" -eq 1 ] || die "${#found[@]} NICs have MAC $MAC (want one): give --iface"
    echo "${found[0]}"
    return
  fi
  default_dev=$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
  for dev in /sys/class/net/*; do
    name=${dev##*/}
    is_nic "$name" || continue
    if [ "$name" = lo ] || [ "$name" = "$default_dev" ]; then continue; fi
    only_lab_v4 "$name" && found+=("$name")
  done
  [ "${#found[@]}" -eq 1 ] ||
    die "found ${#found[@]} candidate NICs for the lab's segment (${found[*]:-none}; default route on ${default_dev:-none}): give --iface or --mac"
  echo "${found[0]}"
}

# The default-route NIC is the machine's way out (and Vagrant's SSH path):
# flushing its addresses or enslaving it to br0 would cut the machine off.
check_iface() {
  local default_dev
  default_dev=$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
  [ "$1" != "$default_dev" ] || die "$1 carries the default route; it cannot be the lab's segment"
  [ "$1" != lo ] || die "lo cannot be the lab's segment"
  only_lab_v4 "$1" || die "$1 has IPv4 addresses outside 198.18.0.0/15 ($(ip -4 -o addr show dev "$1" | awk '{print $4}' | xargs)); is it the right NIC?"
}

# ---- software ---------------------------------------------------------------

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  [ "$(node_major)" -ge "$NODE_MAJOR" ] && return 0
  # Debian 12's nodejs is 18; the project needs 20 (ARCHITECTURE.md).
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ca-certificates curl gnupg >/dev/null
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /usr/share/keyrings/nodesource.gpg
  cat >/etc/apt/sources.list.d/nodesource.sources <<SOURCES
Types: deb
URIs: https://deb.nodesource.com/node_${NODE_MAJOR}.x
Suites: nodistro
Components: main
Signed-By: /usr/share/keyrings/nodesource.gpg
SOURCES
  apt-get update -qq
  apt-get install -y -qq nodejs >/dev/null
  [ "$(node_major)" -ge "$NODE_MAJOR" ] || die "node $(node_major) installed, $NODE_MAJOR needed"
}

apparmor_enabled() { [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; }

# Docker loads its container profile with apparmor_parser when the kernel
# has AppArmor on; without the tool (docker.io only recommends it, and
# install-deps.sh installs no recommends) every `docker run` fails.
ensure_apparmor_tools() {
  apparmor_enabled || return 0
  command -v apparmor_parser >/dev/null && return 0
  apt-get install -y -qq --no-install-recommends apparmor >/dev/null
}

# Debian's named runs under an AppArmor profile that reads only /etc/bind,
# /var/lib/bind, …: allow the lab's named directory (the profile's local/
# include is the place for site additions), then reload the profile.
allow_named_dir() {
  if ! apparmor_enabled || [ ! -f /etc/apparmor.d/usr.sbin.named ]; then return 0; fi
  local local_file=/etc/apparmor.d/local/usr.sbin.named
  if ! grep -qsF "$RUN/named/" "$local_file"; then
    mkdir -p "$(dirname "$local_file")"
    printf '# the Leasehold lab (lab/provision.sh)\n%s/named/ rw,\n%s/named/** rwk,\n' "$RUN" "$RUN" >>"$local_file"
  fi
  if command -v apparmor_parser >/dev/null; then
    apparmor_parser -r -T -W /etc/apparmor.d/usr.sbin.named || die "apparmor_parser could not reload the named profile"
  fi
}

# The engine of lab/docker-engine.sh (no bridge, no iptables rules). Under
# systemd its dockerd and containerd live in the unit leasehold-docker-engine
# (a oneshot that stays active), not in the provisioning session.
start_docker() {
  local unit=leasehold-docker-engine.service
  if "$ROOT/lab/docker-engine.sh" status >/dev/null 2>&1; then
    echo "provision: the Docker engine answers"
  elif [ "$DAEMON_MODE" = systemd ]; then
    # A unit left active by an engine that has since died is stopped first.
    systemctl stop "$unit" >/dev/null 2>&1 || true
    systemctl reset-failed "$unit" >/dev/null 2>&1 || true
    : >"$RUN/docker-engine.log"
    systemd-run --quiet --collect --unit="$unit" -p Type=oneshot -p RemainAfterExit=yes -p TimeoutStartSec=180 \
      -p "StandardOutput=append:$RUN/docker-engine.log" -p "StandardError=append:$RUN/docker-engine.log" \
      "$ROOT/lab/docker-engine.sh" start || { cat "$RUN/docker-engine.log" >&2; die "the Docker engine did not start"; }
    cat "$RUN/docker-engine.log"
  else
    "$ROOT/lab/docker-engine.sh" start
  fi
  "$ROOT/lab/images/build.sh"
}

# `agent` with no --run-dir uses /run/leasehold/agent: point it at this
# worker's state, so `sudo agent inspect web` works on the VM as it is.
link_agent_run_dir() {
  local want=$RUN/agent-$NAME link=/run/leasehold/agent
  mkdir -p /run/leasehold
  if [ -L "$link" ] || [ ! -e "$link" ]; then
    ln -sfn "$want" "$link"
  else
    echo "provision: $link exists and is not a link; give agent --run-dir $want"
  fi
}

# ---- the role ---------------------------------------------------------------

step "Node.js $NODE_MAJOR"
ensure_node
step "Debian and npm packages (lab/install-deps.sh)"
# The lab's packages only, not those of the test suites (lab/programs.txt,
# scope lab). Exported: `make build` runs install-deps.sh again.
export LEASEHOLD_PACKAGES=lab
"$ROOT/lab/install-deps.sh"
ensure_apparmor_tools
step "build and install (make install)"
make -C "$ROOT" --no-print-directory install
mkdir -p "$RUN"

step "the private NIC"
iface=$(find_iface)
check_iface "$iface"
ip link set "$iface" up
echo "provision: the lab's segment is $iface ($(cat "/sys/class/net/$iface/address"))"

case "$role" in
  appliance)
    # The server's address first, so it is the primary one on the NIC: the
    # source of what the server sends matches its server identifier.
    ip addr replace "$APPLIANCE_V4" dev "$iface"
    step "dns: named on ${DNS_V4%/*}, TSIG key $RUN/ddns.key"
    allow_named_dir
    out=$(role_dns "" "$iface" "$DNS_V4" "$DNS_V6" "$DDNS_KEY_NAME") || die "$out"
    step "appliance: leasehold server on ${APPLIANCE_V4%/*} ($iface)"
    out=$(role_appliance "" "$iface" "$APPLIANCE_V4" "$APPLIANCE_V6" "$DNS_V4" "$DNS_V6" "$DDNS_KEY_NAME" "$CONFIG_EDITS") || die "$out"
    cat <<MSG
provision: appliance up. Server log $RUN/server.log, BIND log $RUN/named/named.log,
leases: leasehold-server leases --config $RUN/leasehold.yaml --store $RUN/leases.db
MSG
    ;;
  worker)
    step "worker: $NAME, br0 ${IP%/*} over $iface, agent watch --worker $NAME"
    out=$(role_worker "" "$iface" "$IP" "$NAME") || die "$out"
    link_agent_run_dir
    step "docker: engine and local images"
    start_docker
    cat <<MSG
provision: worker $NAME up. Agent log $RUN/agent-$NAME.log. A container for this worker:
  docker run -d --net none --label leasehold.attach=br0 --label leasehold.worker=$NAME \\
    --label leasehold.app=web leasehold/httpd
  agent inspect --all
MSG
    ;;
esac
