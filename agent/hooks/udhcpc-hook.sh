#!/bin/sh
# shellcheck disable=SC2154  # $interface, $ip, $router… come from udhcpc
# The agent's busybox udhcpc -s hook. udhcpc runs inside the container's
# network namespace (nsenter --net) but in the worker's mount namespace, so
# `ip` acts on the container's interface while the files written here are
# the worker's: the container's resolv.conf (Docker's ResolvConfPath, which
# Docker bind-mounts into the container) and the agent's lease record.
# Settings come from the agent in LH_* variables; udhcpc's own are $1,
# $interface, $ip, $mask, $router, $dns, $domain, $search, $serverid, $lease.
set -u

write_lease() {
  # Written to a temporary file and renamed: the agent never reads half a lease.
  tmp="$LH_LEASE_FILE.tmp.$$"
  {
    echo "event=$1"
    echo "ip=${ip:-}"
    echo "mask=${mask:-}"
    echo "subnet=${subnet:-}"
    echo "router=${router:-}"
    echo "dns=${dns:-}"
    echo "domain=${domain:-}"
    echo "search=${search:-}"
    echo "serverid=${serverid:-}"
    echo "lease=${lease:-0}"
    echo "bound_at=$(date +%s)"
  } > "$tmp" && mv -f "$tmp" "$LH_LEASE_FILE"
}

write_resolv_conf() {
  # Only an existing file is rewritten: creating one inside Docker's
  # container directory while Docker removes it makes `docker rm` fail.
  [ -n "${LH_RESOLV_CONF:-}" ] && [ -f "$LH_RESOLV_CONF" ] || return 0
  tmp="$LH_LEASE_FILE.resolv.$$"
  {
    echo "# written by the leasehold agent from DHCP (options 6, 15, 119)"
    # Option 119 (RFC 3397) is the search list; without it, option 15.
    if [ -n "${search:-}" ]; then
      echo "search $search"
    elif [ -n "${domain:-}" ]; then
      echo "search $domain"
    fi
    for server in ${dns:-}; do echo "nameserver $server"; done
  } > "$tmp"
  # Overwrite in place (1<> opens without truncating; truncate cuts the old
  # tail): Docker bind-mounts this very inode into the container, so a
  # rename would leave the container with the old file.
  if [ -f "$LH_RESOLV_CONF" ]; then
    cat "$tmp" 1<> "$LH_RESOLV_CONF" && truncate -s "$(wc -c < "$tmp")" "$LH_RESOLV_CONF"
  fi
  rm -f "$tmp"
}

case "$1" in
  deconfig)
    # udhcpc deconfigures once when it starts. A client the agent restarts
    # (LH_KEEP_ADDRESS=1) asks for its old address again with -r, so that
    # first deconfig must not take the address away from running traffic.
    marker="$LH_LEASE_FILE.started-$PPID"
    # Markers of earlier clients of this attachment are of no use any more.
    for old in "$LH_LEASE_FILE".started-*; do
      [ "$old" = "$marker" ] || rm -f "$old"
    done
    if [ "${LH_KEEP_ADDRESS:-0}" = 1 ] && [ ! -e "$marker" ]; then
      : > "$marker"
    else
      : > "$marker"
      ip -4 addr flush dev "$interface"
      [ -e "$LH_LEASE_FILE" ] && write_lease deconfig
    fi
    ip link set dev "$interface" up
    ;;
  bound|renew)
    # A renewal that keeps the address must not remove it, even briefly;
    # the previous address is in our lease record (read without a process).
    prev=
    if [ -f "$LH_LEASE_FILE" ]; then
      while IFS='=' read -r key value; do [ "$key" = ip ] && prev=$value; done < "$LH_LEASE_FILE"
    fi
    if [ -n "$prev" ] && [ "$prev" != "$ip" ]; then
      ip -4 addr flush dev "$interface"
    fi
    ip addr replace "$ip/${mask:-32}" dev "$interface"
    # Exactly one default route: the first router the server gave.
    if [ -n "${router:-}" ]; then
      gw=${router%% *}
      ip -4 route replace default via "$gw" dev "$interface"
    fi
    write_resolv_conf
    write_lease "$1"
    # Gratuitous ARP so neighbours (and the bridge) learn the new address at
    # once; in the background so the lease is recorded without waiting.
    if [ "$1" = bound ]; then
      busybox arping -q -U -c 1 -I "$interface" "$ip" >/dev/null 2>&1 &
    fi
    ;;
  leasefail|nak)
    ;;
esac
exit 0
