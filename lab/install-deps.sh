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
  python3 make g++
)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts these daemons on install; the lab and tests run their own.
for svc in kea-dhcp4-server kea-dhcp-ddns-server named bind9 radvd isc-dhcp-relay; do
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
