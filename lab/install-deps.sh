#!/usr/bin/env bash
# Installs what Leasehold's build, tests and lab need on Debian 12, and only
# what is missing, so running it again costs a few seconds. The Debian
# packages are those of lab/programs.txt: every program the code, tests,
# benchmarks and lab run, with the package it comes from (scopes lab and
# test; LEASEHOLD_PACKAGES=lab takes the lab's only, as lab/provision.sh
# does on a VM).
#
#   lab/install-deps.sh          install what is missing, then npm ci if needed
#   lab/install-deps.sh --list   print the Debian packages it installs, one a line
#
# A package apt cannot install — unknown to its sources, or not downloadable —
# stops it before anything is installed, with one line:
#   install-deps: cannot install PACKAGE: REASON
set -euo pipefail
cd "$(dirname "$0")/.."

case ${LEASEHOLD_PACKAGES:-all} in
  all) scopes=' lab test ' ;;
  lab) scopes=' lab ' ;;
  *) echo "install-deps: LEASEHOLD_PACKAGES is all or lab, not '${LEASEHOLD_PACKAGES}'" >&2; exit 2 ;;
esac

# The packages of lab/programs.txt in those scopes, each once.
packages() {
  local program package scope
  while read -r program package scope _; do
    [[ -z $program || $program == \#* ]] && continue
    [[ $scopes == *" $scope "* ]] && echo "$package"
  done <lab/programs.txt | sort -u
}
mapfile -t DEBIAN_PACKAGES < <(packages)
((${#DEBIAN_PACKAGES[@]})) || { echo "install-deps: no packages in lab/programs.txt" >&2; exit 1; }

case ${1:-} in
  --list) printf '%s\n' "${DEBIAN_PACKAGES[@]}"; exit 0 ;;
  '') ;;
  *) echo "usage: lab/install-deps.sh [--list]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

log='' policy=''
cleanup() {
  [ -z "$log" ] || rm -f "$log"
  [ -z "$policy" ] || rm -f "$policy"
}
trap cleanup EXIT
# cannot REASON PACKAGE...: the one line, then exit 1.
cannot() {
  local reason=$1 names
  shift
  names="$*"
  echo "install-deps: cannot install ${names// /, }: $reason" >&2
  exit 1
}
# apt's own first error in $log (its messages are long; the log is not kept).
apt_error() { grep -m1 '^E: ' "$log" | cut -c4- || tail -n1 "$log"; }

if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  apt-get update -qq >"$log" 2>&1 || cannot "apt-get update failed: $(apt_error)" "${missing[@]}"

  # Nothing is installed unless everything can be: first every package must
  # have a version in apt's sources, then all of them must download.
  unknown=()
  for pkg in "${missing[@]}"; do
    candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
    [ -n "$candidate" ] && [ "$candidate" != '(none)' ] || unknown+=("$pkg")
  done
  if ((${#unknown[@]})); then
    cannot "apt's sources have no version of it (apt-cache policy ${unknown[0]}, after apt-get update)" "${unknown[@]}"
  fi
  if ! apt-get install -y -qq --no-install-recommends --download-only "${missing[@]}" >"$log" 2>&1; then
    # "Failed to fetch …/pool/…/NAME_VERSION_ARCH.deb", or " NAME : Depends: …" for a dependency apt cannot meet.
    mapfile -t failed < <(sed -n -e 's#^E: Failed to fetch .*/\([^/_ ]*\)_[^/ ]*\.deb .*#\1#p' \
      -e 's#^ \([^ ]*\) : \(Pre-\)\{0,1\}Depends: .*#\1#p' "$log" | sort -u)
    ((${#failed[@]})) || failed=("${missing[@]}")
    cannot "$(apt_error)" "${failed[@]}"
  fi
  echo "install-deps: apt-get install ${missing[*]}"

  # No daemon may start while installing: the packaged dockerd would make a
  # docker0 bridge and iptables rules on the host before we could disable it.
  # policy-rc.d (Debian's invoke-rc.d policy) says "forbidden"; one already
  # there is somebody else's and is kept.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 || cannot "$(apt_error)" "${missing[@]}"
  if [ -n "$policy" ]; then rm -f "$policy"; policy=''; fi
fi
# Debian enables these daemons at boot; the lab and tests run their own (the
# Docker engine through lab/docker-engine.sh, with no bridge and no iptables
# rules; an enabled docker.socket would start the packaged one again;
# PostgreSQL clusters made under the tests' own directories, not the
# packaged main cluster).
for svc in kea-dhcp4-server kea-dhcp-ddns-server named bind9 radvd isc-dhcp-relay \
  postgresql docker.socket docker containerd; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "install-deps: Node.js 20 is required (found ${node_major})" >&2
  exit 1
fi

# npm ci only when the lock file changed since the last install. A
# node_modules that is a symlink belongs to another checkout (a git
# worktree sharing it): npm ci would empty that checkout's tree, so leave it.
if [ -L node_modules ]; then
  echo "install-deps: node_modules is a symlink to $(readlink node_modules): not running npm ci here"
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
