#!/usr/bin/env bash
# Installs what Leasehold's build, tests and lab need on Debian 12, and only
# what is missing, so running it again costs a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  iproute2 procps psmisc
  busybox-static udhcpc isc-dhcp-client isc-dhcp-relay
  kea-dhcp4-server kea-admin kea-dhcp-ddns-server
  bind9 bind9-utils bind9-dnsutils
  ndisc6 radvd tshark arping
  docker.io
  python3 make g++
  # The integration suite's checks of vagrant/Vagrantfile (`vagrant
  # validate`; no VM is ever booted) and of the lab's shell scripts.
  vagrant shellcheck
)
# LEASEHOLD_SKIP_PACKAGES: names from the list to leave out (lab/provision.sh
# leaves out what only the test suites use).
skip=" ${LEASEHOLD_SKIP_PACKAGES:-} "

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  [[ $skip == *" $pkg "* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # No daemon may start while installing: the packaged dockerd would make a
  # docker0 bridge and iptables rules on the host before we could disable it.
  # policy-rc.d (Debian's invoke-rc.d policy) says "forbidden"; one already
  # there is somebody else's and is kept.
  policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$policy" ]; then rm -f "$policy"; trap - EXIT; fi
fi
# Debian enables these daemons at boot; the lab and tests run their own (the
# Docker engine through lab/docker-engine.sh, with no bridge and no iptables
# rules; an enabled docker.socket would start the packaged one again).
for svc in kea-dhcp4-server kea-dhcp-ddns-server named bind9 radvd isc-dhcp-relay \
  docker.socket docker containerd; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "install-deps: Node.js 20 is required (found ${node_major})" >&2
  exit 1
fi

# npm ci only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
