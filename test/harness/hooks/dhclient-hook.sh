#!/bin/sh
# ISC dhclient -sf hook for the integration tests (dhclient passes our
# settings through `-e LT_...=`). Applies the lease inside the client's
# namespace, then records the event. With LT_ARP_CHECK=1 it probes a new
# address first and exits 1 when another host answers: dhclient then sends
# DHCPDECLINE (RFC 2131 §3.1 step 5; dhclient-script(8), BOUND).
. "$(dirname "$0")/record-event.sh"

case "$reason" in
  PREINIT)
    ip link set dev "$interface" up
    ;;
  BOUND|RENEW|REBIND|REBOOT)
    if [ "$LT_ARP_CHECK" = 1 ] && [ "$new_ip_address" != "$old_ip_address" ] &&
      ! busybox arping -D -q -f -c 2 -w 1 -I "$interface" "$new_ip_address"; then
      record_event ARPCHECK_IN_USE
      exit 1
    fi
    if [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ]; then
      ip -4 addr flush dev "$interface"
    fi
    ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface"
    if [ -n "$new_routers" ]; then
      ip route replace default via "${new_routers%% *}" dev "$interface"
    fi
    ;;
  EXPIRE|FAIL|RELEASE|STOP)
    ip -4 addr flush dev "$interface"
    ;;
esac
record_event "$reason"
exit 0
