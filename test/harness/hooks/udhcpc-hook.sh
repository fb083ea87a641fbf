#!/bin/sh
# busybox udhcpc -s hook for the integration tests. Applies the lease inside
# the client's namespace (so renewals can be sent unicast from the leased
# address), then records the event: a test that sees "bound" can rely on the
# address being configured.
. "$(dirname "$0")/record-event.sh"

case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ;;
  bound|renew)
    # A renewal that keeps the address must not remove it, even briefly.
    if ! ip -4 -o addr show dev "$interface" | grep -q " $ip/"; then
      ip -4 addr flush dev "$interface"
    fi
    ip addr replace "$ip/${mask:-$subnet}" dev "$interface"
    # Off-link servers (behind a relay) are reached through the first router.
    if [ -n "$router" ]; then
      ip route replace default via "${router%% *}" dev "$interface"
    fi
    ;;
esac
record_event "$1"
exit 0
