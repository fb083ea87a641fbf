# shellcheck shell=bash
# Sourced by lab/lab.sh (namespaces on one machine) and lab/provision.sh
# (Vagrant VMs): the lab's three roles, each given the topology as
# parameters — the netns to act in ("" for the machine's own, as on a VM),
# the interface on the L2 segment, addresses — never hard-coded names.
# Needs ROOT (the checkout) and RUN (where state, logs and pid files go).
# DAEMON_MODE says how daemons are started: "setsid" (the default, and
# what lab/lab.sh uses) in the background in their own session; "systemd"
# (lab/provision.sh on a VM whose PID 1 is systemd) as transient units
# leasehold-<name> made by systemd-run, so they outlive the provisioning
# shell and show in systemctl and journalctl. Pid files, logs and
# stop_daemon are the same in both.

# ip / commands in netns $1, or in the machine's own namespace when $1 is "".
nsip() { local ns=$1; shift; if [ -n "$ns" ]; then ip -n "$ns" "$@"; else ip "$@"; fi; }
nsrun() { local ns=$1; shift; if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi; }

# pid of a daemon we started (pid file $RUN/$1.pid), if it still runs.
daemon_pid() { pid_in "$RUN/$1.pid"; }
# named writes its own pid file.
named_pid() { pid_in "$RUN/named/named.pid"; }
# running PID: the process exists and is not a zombie. A daemon killed
# after lab.sh exited is an orphan, and the reaper (PID 1, or a container
# runtime's init) may take seconds to collect it; `kill -0` succeeds on a
# zombie, and `lab.sh up` would then not restart a daemon that is dead.
# /proc/PID/stat: the state follows the command name, which is in
# parentheses and may itself hold spaces.
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}
# pid_in FILE: the pid in FILE, if that process still runs.
pid_in() { local pid; [ -f "$1" ] && pid=$(cat "$1") && [ -n "$pid" ] && running "$pid" && echo "$pid"; }

# stop_pid PID: SIGTERM, then SIGKILL after 5 s.
stop_pid() {
  kill -TERM "$1"
  for _ in $(seq 50); do running "$1" || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

# daemon NAME NS CMD...: start CMD in netns NS in the background, log to
# $RUN/NAME.log, pid in $RUN/NAME.pid; setsid (or a systemd unit) so it
# outlives this script.
daemon() {
  local name=$1 ns=$2 pid; shift 2
  daemon_pid "$name" >/dev/null && return 0
  # Appended, not truncated: a restarted daemon's log keeps what the last one said.
  echo "--- $(date -u +%FT%TZ) starting $*" >>"$RUN/$name.log"
  if [ "${DAEMON_MODE:-setsid}" = systemd ]; then
    # KillMode=process, as with setsid: stopping a daemon stops that one
    # process, never what it started (an agent's DHCP clients outlive it).
    systemd_unit "$name" "$ns" KillMode=process \
      "StandardOutput=append:$RUN/$name.log" "StandardError=append:$RUN/$name.log" -- "$@" || return 1
    pid=$(systemctl show -p MainPID --value "leasehold-$name.service")
    [ "${pid:-0}" != 0 ] || { echo "leasehold-$name exited at once: see $RUN/$name.log"; return 1; }
    echo "$pid" >"$RUN/$name.pid"
    return 0
  fi
  setsid ${ns:+ip netns exec "$ns"} "$@" >>"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

# systemd_unit NAME NS PROPERTY... -- CMD...: CMD (in netns NS) as the
# transient service leasehold-NAME with these unit properties. A unit that
# is still loaded — running, or kept because processes it started remain —
# is started again as it was made (same command) rather than made anew,
# which systemd-run refuses for a loaded name.
systemd_unit() {
  local name=$1 ns=$2 unit=leasehold-$1.service props=()
  shift 2
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do props+=(-p "$1"); shift; done
  shift
  systemctl reset-failed "$unit" >/dev/null 2>&1 || true
  if [ "$(systemctl show -p LoadState --value "$unit" 2>/dev/null)" = loaded ]; then
    systemctl start "$unit"
  else
    systemd-run --quiet --collect --unit="$unit" "${props[@]}" ${ns:+ip netns exec "$ns"} "$@"
  fi
}

# stop_daemon NAME: SIGTERM, then SIGKILL after 5 s; only our own pid file.
stop_daemon() {
  local pid
  pid=$(daemon_pid "$1") || { rm -f "$RUN/$1.pid"; return 0; }
  stop_pid "$pid"
  rm -f "$RUN/$1.pid"
}

# The daemon's log since its latest start (daemon() writes a "--- … starting" line).
since_start() { awk '/^--- .* starting /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$RUN/$1.log"; }

# wait_log NAME PATTERN SECONDS: until the daemon's log shows PATTERN.
wait_log() {
  local name=$1 pattern=$2 tries=$(( $3 * 10 ))
  for _ in $(seq "$tries"); do
    since_start "$name" | grep -q "$pattern" && return 0
    daemon_pid "$name" >/dev/null || { echo "$name exited: $(tail -n 3 "$RUN/$name.log")"; return 1; }
    sleep 0.1
  done
  echo "$name not ready after $3 s: see $RUN/$name.log"
  return 1
}

# role_dns NS IFACE V4/LEN V6/LEN KEYNAME: BIND with the lab's zones and a
# fresh TSIG key (or $LAB_TSIG_SECRET, so several machines can share one).
role_dns() {
  local ns=$1 iface=$2 v4=$3 v6=$4 keyname=$5
  nsip "$ns" addr replace "$v4" dev "$iface"
  nsip "$ns" -6 addr replace "$v6" dev "$iface" nodad
  mkdir -p "$RUN/named"
  if [ ! -f "$RUN/ddns.key" ]; then
    if [ -n "${LAB_TSIG_SECRET:-}" ]; then
      printf 'key "%s" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' "$keyname" "$LAB_TSIG_SECRET" >"$RUN/ddns.key"
    else
      tsig-keygen -a hmac-sha256 "$keyname" >"$RUN/ddns.key"
    fi
  fi
  if ! named_pid >/dev/null; then
    node "$ROOT/dist/lab/bind-config.js" "$RUN/named" "${v4%/*}" "$RUN/ddns.key"
    if [ "${DAEMON_MODE:-setsid}" = systemd ]; then
      # named daemonizes itself; the unit follows it by its pid file.
      systemd_unit named "$ns" Type=forking "PIDFile=$RUN/named/named.pid" -- \
        named -4 -c "$RUN/named/named.conf" -L "$RUN/named/named.log" ||
        { echo "named did not start: see $RUN/named/named.log and journalctl -u leasehold-named"; return 1; }
    else
      nsrun "$ns" named -4 -c "$RUN/named/named.conf" -L "$RUN/named/named.log" ||
        { echo "named did not start: see $RUN/named/named.log"; return 1; }
    fi
  fi
  for _ in $(seq 50); do
    nsrun "$ns" dig @"${v4%/*}" +short +time=1 +tries=1 leasehold.test SOA 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  echo "named does not answer on ${v4%/*}: see $RUN/named/named.log"
  return 1
}

stop_dns() {
  local pid
  if pid=$(named_pid); then stop_pid "$pid"; fi
  return 0
}

# The control API and /metrics listen on the appliance's address, which
# needs a bearer token: made once (mode 0600), kept across restarts.
ensure_control_token() {
  [ -s "$RUN/control.token" ] ||
    (umask 077 && node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("hex") + "\n")' >"$RUN/control.token")
}

# role_appliance NS IFACE V4/LEN V6/LEN DNS_V4 DNS_V6 KEYNAME [EDITS]: the
# leasehold server (DHCPv4, RA, DDNS) on IFACE, with the lab's config built
# for this machine from these parameters by lab/server-config.ts (BIND at
# DNS_V4/DNS_V6, the key KEYNAME in $RUN/ddns.key); EDITS names a file of
# changes to it (dotted.path: value). NAME (default server) names its
# daemon, config ($RUN/leasehold.yaml for `server`, else $RUN/NAME.yaml) and
# log; the rest are more server-config flags (--pg-*: a shared PostgreSQL
# store instead of the SQLite file $RUN/leases.db).
role_appliance() {
  local ns=$1 iface=$2 v4=$3 v6=$4 dns4=$5 dns6=$6 keyname=$7 edits=${8:-} name=${9:-server}
  shift $(( $# < 9 ? $# : 9 ))
  local config=$RUN/leasehold.yaml store_flags=(--store "$RUN/leases.db")
  [ "$name" = server ] || config=$RUN/$name.yaml
  [ $# -eq 0 ] || store_flags=()
  nsip "$ns" addr replace "$v4" dev "$iface"
  nsip "$ns" -6 addr replace "$v6" dev "$iface" nodad
  ensure_control_token || return 1
  node "$ROOT/dist/lab/server-config.js" --interface "$iface" --address "$v4" --address6 "$v6" \
    --dns "${dns4%/*}" --dns6 "${dns6%/*}" --key-name "$keyname" --key-file "$RUN/ddns.key" \
    --token-file "$RUN/control.token" ${edits:+--edits "$edits"} "$@" "$config" 2>&1 || return 1
  node "$ROOT/dist/server/cli/main.js" --config "$config" --check >/dev/null ||
    { echo "the lab's server config $config is invalid"; return 1; }
  daemon "$name" "$ns" node "$ROOT/dist/server/cli/main.js" --config "$config" "${store_flags[@]}"
  wait_log "$name" '"event":"ready"' 10
}

# role_worker NS UPLINK V4/LEN NAME: bridge br0 with UPLINK as a port and the
# worker's address on it (the MAC scheme takes its last three octets), and
# `agent watch` attaching the containers labelled for worker NAME and
# serving the Docker network driver leasehold-NAME (the workers share one
# engine, and a driver's name is its socket's in /run/docker/plugins).
role_worker() {
  local ns=$1 uplink=$2 v4=$3 name=$4
  nsip "$ns" link show br0 >/dev/null 2>&1 || nsip "$ns" link add br0 type bridge
  # No STP: a container's port must forward at once, or its first DHCP
  # DISCOVERs are lost in the listening/learning states.
  nsip "$ns" link set br0 type bridge stp_state 0
  nsip "$ns" -4 addr flush dev "$uplink"
  nsip "$ns" link set "$uplink" master br0 up
  nsip "$ns" link set br0 up
  nsip "$ns" addr replace "$v4" dev br0
  # Stable MACs (from the container id): a restarted container presents the
  # same chaddr, as well as the same client-id, and gets its address back.
  daemon "agent-$name" "" "$ROOT/bin/agent" --run-dir "$RUN/agent-$name" --default-app lab \
    watch ${ns:+--bridge-netns "$ns"} --worker "$name" --plugin "leasehold-$name" --mac-scheme "${LAB_MAC_SCHEME:-stable}" --interval 5
  wait_log "agent-$name" '"event":"watching"' 15
}
