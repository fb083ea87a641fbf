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
  # Built in the shell and written with one redirection, no processes: the
  # hook runs on every attach's critical path. `>` truncates the same inode,
  # which matters: Docker bind-mounts this very inode into the container,
  # so a rename would leave the container with the old file.
  content="# written by the leasehold agent from DHCP (options 6, 15, 119)"
  # Option 119 (RFC 3397) is the search list; without it, option 15.
  if [ -n "${search:-}" ]; then
    content="$content
search $search"
  elif [ -n "${domain:-}" ]; then
    content="$content
search $domain"
  fi
  for server in ${dns:-}; do
    content="$content
nameserver $server"
  done
  printf '%s\n' "$content" > "$LH_RESOLV_CONF"
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
      ip link set dev "$interface" up
    else
      : > "$marker"
      # One process for both: this hook is on every attach's critical path.
      printf 'addr flush dev %s\nlink set dev %s up\n' "$interface" "$interface" | ip -4 -batch -
      [ -e "$LH_LEASE_FILE" ] && write_lease deconfig
    fi
    ;;
  bound|renew)
    # A renewal that keeps the address must not remove it, even briefly;
    # the previous address is in our lease record (read without a process).
    prev=
    if [ -f "$LH_LEASE_FILE" ]; then
      while IFS='=' read -r key value; do [ "$key" = ip ] && prev=$value; done < "$LH_LEASE_FILE"
    fi
    # One `ip -4 -batch` for all of it (one process, not three).
    batch=
    if [ -n "$prev" ] && [ "$prev" != "$ip" ]; then
      batch="addr flush dev $interface
"
    fi
    batch="${batch}addr replace $ip/${mask:-32} dev $interface"
    # Exactly one default route: the first router the server gave.
    if [ -n "${router:-}" ]; then
      gw=${router%% *}
      batch="$batch
route replace default via $gw dev $interface"
    fi
    printf '%s\n' "$batch" | ip -4 -batch -
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
