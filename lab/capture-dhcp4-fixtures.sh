#!/usr/bin/env bash
# Captures real DHCPv4 packets from busybox udhcpc, ISC dhclient and Kea's
# perfdhcp (answered by kea-dhcp4) and writes them as golden vectors to
# test/fixtures/dhcp4/<client>-<message>.bin (the raw UDP payload).
#
# Everything happens inside two network namespaces this script creates,
# joined by one veth pair, with addresses from 198.18.0.0/15 only:
#
#   netns lt-cap-srv  lt-cap-s 198.18.200.1/24  kea-dhcp4 + tshark
#   netns lt-cap-cli  lt-cap-c 198.18.200.2/24  one client at a time
#
# The veth is created directly inside the namespaces, so the host's own
# interfaces, routes and /etc/resolv.conf are never touched; dhclient runs
# with its own -cf/-lf/-pf and `-sf /bin/true`, udhcpc with `-s /bin/true`.
# Needs root. Usage: sudo lab/capture-dhcp4-fixtures.sh [output-dir]
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
out_dir=${1:-$repo_root/test/fixtures/dhcp4}
srv_ns=lt-cap-srv
cli_ns=lt-cap-cli
srv_if=lt-cap-s
cli_if=lt-cap-c
# Locally administered unicast MACs (RFC 7042 §2.1), one per client, so each
# captured packet can be attributed to the client that sent it.
udhcpc_mac=0a:00:c6:12:c8:11
dhclient_mac=0a:00:c6:12:c8:12
perfdhcp_mac=0a:00:c6:12:c8:13

tmp=$(mktemp -d /tmp/lt-cap.XXXXXX)
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -f $tmp/dhclient.pid ]]; then
    kill "$(cat "$tmp/dhclient.pid")" 2>/dev/null || true
  fi
  ip netns del "$srv_ns" 2>/dev/null || true
  ip netns del "$cli_ns" 2>/dev/null || true
  # LT_CAP_KEEP=1 keeps the logs and the pcap for debugging.
  if [[ ${LT_CAP_KEEP:-} == 1 ]]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

in_cli() { ip netns exec "$cli_ns" "$@"; }

# Polls a condition instead of sleeping a fixed time; fails after ~10 s.
wait_for() {
  local what=$1
  shift
  local i
  for i in $(seq 1 100); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $what" >&2
  return 1
}

fail() {
  echo "$1 failed; its output:" >&2
  cat "$2" >&2
  exit 1
}

set_client_mac() {
  ip -n "$cli_ns" link set "$cli_if" down
  ip -n "$cli_ns" link set "$cli_if" address "$1"
  ip -n "$cli_ns" link set "$cli_if" up
}

ip netns add "$srv_ns"
ip netns add "$cli_ns"
ip -n "$srv_ns" link add "$srv_if" type veth peer name "$cli_if" netns "$cli_ns"
ip -n "$srv_ns" addr add 198.18.200.1/24 dev "$srv_if"
ip -n "$cli_ns" addr add 198.18.200.2/24 dev "$cli_if"
ip -n "$srv_ns" link set lo up
ip -n "$cli_ns" link set lo up
ip -n "$srv_ns" link set "$srv_if" up
ip -n "$cli_ns" link set "$cli_if" up

# tshark on the server side sees every DHCP packet in both directions.
# Background jobs call `ip netns exec` directly (it execs the command), so
# that $! is the PID of tshark/kea themselves and cleanup can stop them.
ip netns exec "$srv_ns" tshark -q -i "$srv_if" -f 'udp port 67 or udp port 68' -w "$tmp/dhcp.pcap" \
  >"$tmp/tshark.log" 2>&1 &
pids+=($!)
wait_for "tshark to start capturing" grep -qs 'Capturing on' "$tmp/tshark.log"

cat >"$tmp/kea.json" <<EOF
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": ["$srv_if"], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": false },
    "valid-lifetime": 3600,
    "subnet4": [
      {
        "id": 1,
        "subnet": "198.18.200.0/24",
        "pools": [{ "pool": "198.18.200.100 - 198.18.200.199" }],
        "option-data": [
          { "name": "routers", "data": "198.18.200.1" },
          { "name": "domain-name-servers", "data": "198.18.200.1" },
          { "name": "domain-name", "data": "leasehold.test" },
          { "name": "domain-search", "data": "lab.leasehold.test, leasehold.test" }
        ]
      }
    ],
    "loggers": [{ "name": "kea-dhcp4", "severity": "INFO",
                  "output_options": [{ "output": "$tmp/kea.log" }] }]
  }
}
EOF
KEA_LOCKFILE_DIR=$tmp KEA_PIDFILE_DIR=$tmp ip netns exec "$srv_ns" kea-dhcp4 -c "$tmp/kea.json" \
  >"$tmp/kea.out" 2>&1 &
pids+=($!)
wait_for "kea-dhcp4 to open its sockets" grep -qs 'DHCP4_STARTED' "$tmp/kea.log"

# busybox udhcpc: hostname (12), client-id (61), FQDN (81), a few extra
# requested options; -q exits once bound, -n gives up if nothing answers.
set_client_mac "$udhcpc_mac"
in_cli timeout 20 busybox udhcpc -f -q -n -t 3 -T 2 -i "$cli_if" -s /bin/true \
  -x hostname:cap-udhcpc -x 0x3d:ff00000001000100010203040506 -F cap-udhcpc.web \
  -O 119 -O 121 -O 42 >"$tmp/udhcpc.log" 2>&1 || fail udhcpc "$tmp/udhcpc.log"

# ISC dhclient: -1 tries once; after binding it daemonises and is stopped
# through its own pid file.
set_client_mac "$dhclient_mac"
cat >"$tmp/dhclient.conf" <<'EOF'
option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
send host-name "cap-dhclient";
send dhcp-client-identifier 1:0a:00:c6:12:c8:12;
send fqdn.fqdn "cap-dhclient.web.";
send fqdn.encoded on;
send fqdn.server-update on;
request subnet-mask, broadcast-address, routers, domain-name,
        domain-name-servers, domain-search, host-name, interface-mtu,
        rfc3442-classless-static-routes;
EOF
in_cli timeout 30 dhclient -4 -1 -v -cf "$tmp/dhclient.conf" -lf "$tmp/dhclient.leases" \
  -pf "$tmp/dhclient.pid" -sf /bin/true "$cli_if" >"$tmp/dhclient.log" 2>&1 ||
  fail dhclient "$tmp/dhclient.log"
wait_for "dhclient pid file" test -s "$tmp/dhclient.pid"
kill "$(cat "$tmp/dhclient.pid")"
rm -f "$tmp/dhclient.pid"

# perfdhcp acts as a relay (giaddr = 198.18.200.2). At one exchange per
# second for two seconds it does one full DISCOVER/OFFER/REQUEST/ACK
# (`-n 1` would stop right after the first DISCOVER, before any answer).
in_cli timeout 20 perfdhcp -4 -r 1 -p 2 -R 1 -s 7 -b "mac=$perfdhcp_mac" -l "$cli_if" \
  >"$tmp/perfdhcp.log" 2>&1 || fail perfdhcp "$tmp/perfdhcp.log"

# Stop tshark so that it flushes the capture file.
kill -INT "${pids[0]}"
wait "${pids[0]}" || true

mkdir -p "$out_dir"
# One line per DHCP packet: chaddr, message type, UDP payload in hex.
tshark -r "$tmp/dhcp.pcap" -Y dhcp -T fields -E separator=' ' -E occurrence=f \
  -e dhcp.hw.mac_addr -e dhcp.option.dhcp -e udp.payload >"$tmp/packets.txt"

declare -A client_of=(
  ["$udhcpc_mac"]=udhcpc
  ["$dhclient_mac"]=dhclient
  ["$perfdhcp_mac"]=perfdhcp
)
declare -A name_of=([1]=discover [2]=offer [3]=request [5]=ack [6]=nak)
# Files are written as *.new first and only renamed once all are there, so a
# failed run leaves the committed fixtures untouched.
shopt -s nullglob
rm -f "$out_dir"/*.bin.new
written=0
while read -r mac type payload; do
  client=${client_of[$mac]:-}
  name=${name_of[$type]:-}
  [[ -n $client && -n $name ]] || continue
  # Server replies are named after the client they answer.
  if [[ $type == 2 || $type == 5 || $type == 6 ]]; then
    file=$out_dir/kea-$name-to-$client.bin
  else
    file=$out_dir/$client-$name.bin
  fi
  # Keep the first packet of each kind (retransmissions are not needed).
  [[ -e $file.new ]] && continue
  xxd -r -p <<<"$payload" >"$file.new"
  written=$((written + 1))
done <"$tmp/packets.txt"

# Three clients × DISCOVER, OFFER, REQUEST, ACK.
if ((written != 12)); then
  echo "expected 12 packets, captured $written; fixtures left unchanged" >&2
  rm -f "$out_dir"/*.bin.new
  exit 1
fi
for f in "$out_dir"/*.bin.new; do
  mv "$f" "${f%.new}"
  echo "wrote ${f%.new} ($(stat -c %s "${f%.new}") bytes)"
done
echo "$written packets written to $out_dir"
