#!/usr/bin/env bash
# The Leasehold lab on one machine: a throwaway L2 segment made of network
# namespaces (ARCHITECTURE.md, "The lab"), with the roles of lab/roles.sh
# (the same ones lab/provision.sh gives the Vagrant VMs):
#
#   netns P-core: bridge "spine"
#     ├── P-appliance  198.18.0.1/16 fd00:198:18::1/64  leasehold server appliance-1 (DHCPv4, RA, DDNS)
#     ├── P-appliance2 198.18.0.3/16 fd00:198:18::3/64  leasehold server appliance-2 (the same)
#     ├── P-db         198.18.0.4/16                    PostgreSQL, the two servers' shared lease database
#     ├── P-dns        198.18.0.2/16 fd00:198:18::2/64  BIND (named)
#     ├── P-w1  br0    198.18.0.11/16                   agent watch --worker P-w1
#     ├── P-w2  br0    198.18.0.12/16                   agent watch --worker P-w2
#     └── P-mon        198.18.0.9/16                    Prometheus, scraping the servers and agents
#
# then the seed's demo: a web container on w1, fetched by name from a client
# container on w2, over IPv4 and IPv6. P is $LAB_PREFIX (default lh), state
# goes to $LAB_RUN (default lab/run), so the end-to-end suite can run its
# own copy beside the lab. Every address is in 198.18.0.0/15 or fd00::/8;
# nothing touches the host's own interfaces. Safe to run twice: each step
# checks before it makes.
#
#   lab/lab.sh up [--no-demo] [--store postgresql|sqlite] | status | down
#
# --store postgresql (the default; or LAB_STORE=postgresql) is the
# high-availability pair: PostgreSQL in P-db (a cluster under $RUN/pg,
# listening on 198.18.0.4 and a socket under $RUN only) and two appliances
# serving DHCPv4 from the one shared database, splitting the clients into
# RFC 3074 buckets by heartbeat, both sending DNS updates (the shared
# queue's claims decide which one sends each change) and the same RAs.
# --store sqlite (LAB_STORE=sqlite) is the single appliance on its
# embedded SQLite file $RUN/leases.db, without P-db and P-appliance2.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
P=${LAB_PREFIX:-lh}
# Interface names are at most 15 characters and the longest we make is
# "$P-app20" (the spine port of $P-appliance2); namespace names have no
# such limit but are kept near it so they read well.
[ ${#P} -le 5 ] || { echo "lab: LAB_PREFIX '$P' is longer than 5 characters" >&2; exit 2; }
RUN=${LAB_RUN:-$ROOT/lab/run}
# The server's config is built by lab/server-config.ts; this file, if
# given, holds changes to it (dotted.path: value, YAML or JSON).
CONFIG_EDITS=${LEASEHOLD_LAB_CONFIG_EDITS:-}
AGENT=("$ROOT/bin/agent")
# Packaged programs only (lab/programs.txt), as the agent's SYSTEM_PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck source=lab/roles.sh
. "$ROOT/lab/roles.sh"

CORE=$P-core SPINE=spine APPLIANCE=$P-appliance DNS=$P-dns
WORKERS=("$P-w1" "$P-w2")
declare -A WORKER_V4=(["$P-w1"]=198.18.0.11/16 ["$P-w2"]=198.18.0.12/16)
APPLIANCE_V4=198.18.0.1/16 APPLIANCE_V6=fd00:198:18::1/64
DNS_V4=198.18.0.2/16 DNS_V6=fd00:198:18::2/64
# The TSIG key BIND accepts updates with and the server signs them with.
DDNS_KEY_NAME=leasehold-ddns
WEB=$P-web CLIENT=$P-client
DOMAIN=leasehold.test
# Prometheus: its netns on the spine, and what it scrapes. Each server is
# NAME=ADDRESS:PORT of its control HTTP (lab/server-config.ts, port 8000);
# another appliance is one more entry. Each worker's agent serves /metrics
# on a unix socket in the machine's namespace; a relay inside the worker's
# netns offers it on the worker's address, AGENT_METRICS_PORT.
MON=$P-mon MON_V4=198.18.0.9/16 PROMETHEUS_PORT=9090 AGENT_METRICS_PORT=9101
PROMETHEUS_SERVERS=("appliance=${APPLIANCE_V4%/*}:8000")
PROMETHEUS_URL=http://${MON_V4%/*}:$PROMETHEUS_PORT

step_name='' step_start=0
step() { step_name="$*"; step_start=$(date +%s%N); printf '%-64s' "• $*"; }
ok() { printf ' ok (%d ms)\n' $(( ($(date +%s%N) - step_start) / 1000000 )); }
die() { printf ' FAILED\nlab: step "%s" failed: %s\n' "$step_name" "$*" >&2; exit 1; }
# shellcheck disable=SC2154  # rc is assigned inside the trap string
trap 'rc=$?; [ $rc -eq 0 ] || echo "lab: exit $rc; make lab-down (or lab/lab.sh down) removes what was made" >&2' EXIT

have_netns() { [ -e "/run/netns/$1" ]; }
ensure_netns() {
  have_netns "$1" || ip netns add "$1"
  ip -n "$1" link set lo up
}

# Connect netns $1 to the spine: port $2 in P-core, interface $3 inside $1.
ensure_spine_port() {
  local ns=$1 port=$2 ifname=$3
  if ! ip -n "$CORE" link show "$port" >/dev/null 2>&1; then
    ip -n "$CORE" link add "$port" type veth peer name "$ifname" netns "$ns"
  fi
  ip -n "$CORE" link set "$port" master "$SPINE" up
  ip -n "$ns" link set "$ifname" up
}

dig_lab() { ip netns exec "$DNS" dig @"${DNS_V4%/*}" +short +time=1 +tries=1 "$@"; }

# inspect WORKER CONTAINER: the agent's JSON for a container, or nothing.
inspect() { "${AGENT[@]}" --run-dir "$RUN/agent-$1" inspect "$2" --json 2>/dev/null || true; }
# json_fields PATH...: the values at those dotted paths of the JSON on stdin,
# on one line separated by \x1f ("" where missing; not a tab, which `read`
# would merge when a field is empty) — one node for all of them.
json_fields() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let j={};try{j=JSON.parse(s)}catch{}process.stdout.write(process.argv.slice(1).map(p=>{const v=p.split(".").reduce((o,k)=>o?.[k],j);return v===undefined?"":String(v)}).join("\x1f")+"\n")})' "$@"; }

# run_container NAME WORKER APP IMAGE [CMD...]: a --net none container
# labelled for WORKER's agent; an existing running one is kept.
run_container() {
  local name=$1 worker=$2 app=$3 image=$4; shift 4
  if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ]; then return 0; fi
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --net none --name "$name" --hostname "$name" \
    --label leasehold.attach=br0 --label "leasehold.worker=$worker" --label "leasehold.app=$app" \
    --label "leasehold.lab=$P" "$image" "$@" >/dev/null
}

# wait_attached WORKER CONTAINER: until the agent reports IPv4 and IPv6.
wait_attached() {
  local json ip v6
  for _ in $(seq 300); do
    json=$(inspect "$1" "$2")
    IFS=$'\x1f' read -r ip v6 < <(json_fields NetworkSettings.IPAddress NetworkSettings.GlobalIPv6Address <<<"$json")
    [ -n "$ip" ] && [ -n "$v6" ] && { echo "$json"; return 0; }
    sleep 0.1
  done
  return 1
}

# --- Docker networks: one Leasehold network per worker ----------------------
# Each worker's agent serves the driver leasehold-<worker> (lab/roles.sh);
# its network P-wN-net puts containers on that worker's br0. DRIVER_DEMO is
# started through P-w1-net (`docker run --network`), next to the labelled
# containers, and its name must resolve from the client on the other worker.
DRIVER_DEMO=$P-drv
docker_network() { echo "$1-net"; }

up_docker_networks() {
  local w net
  for w in "${WORKERS[@]}"; do
    net=$(docker_network "$w")
    step "docker: network $net (driver leasehold-$w, br0 in $w)"
    docker network inspect "$net" >/dev/null 2>&1 ||
      docker network create -d "leasehold-$w" --ipam-driver null -o leasehold.bridge=br0 -o "leasehold.bridge-netns=$w" \
        -o leasehold.app=lab --label "leasehold.lab=$P" "$net" >/dev/null || die "docker network create $net failed"
    ok
  done
}

# up_driver_demo: DRIVER_DEMO through the first worker's network; its name
# looked up from CLIENT (the second worker) and its page fetched by name.
up_driver_demo() {
  local net id json fqdn ip addr=''
  net=$(docker_network "${WORKERS[0]}")
  step "demo: $DRIVER_DEMO by docker run --network $net"
  if [ "$(docker inspect -f '{{.State.Running}}' "$DRIVER_DEMO" 2>/dev/null)" != true ]; then
    docker rm -f "$DRIVER_DEMO" >/dev/null 2>&1 || true
    # Captured: Docker warns that the host does not forward IPv4, which this
    # lab never needs (it routes inside its own namespaces).
    local out
    out=$(docker run -d --network "$net" --name "$DRIVER_DEMO" --label "leasehold.lab=$P" leasehold/httpd:latest 2>&1) || die "docker run --network $net failed: $out"
  fi
  id=$(docker inspect -f '{{.Id}}' "$DRIVER_DEMO")
  json=$(wait_attached "${WORKERS[0]}" "$id") || die "$DRIVER_DEMO not adopted with IPv4 and IPv6 after 30 s (see $RUN/agent-${WORKERS[0]}.log)"
  IFS=$'\x1f' read -r fqdn ip < <(json_fields NetworkSettings.FQDN NetworkSettings.IPAddress <<<"$json")
  ok
  step "demo: $CLIENT on ${WORKERS[1]} resolves $fqdn"
  for _ in $(seq 100); do
    addr=$(docker exec "$CLIENT" nslookup -type=A "$fqdn" 2>&1 | awk '/^Address: /{a=$2} END{print a}')
    [ "$addr" = "$ip" ] && break
    sleep 0.1
  done
  [ "$addr" = "$ip" ] || die "$CLIENT resolved $fqdn to '$addr', expected $ip"
  fetch "http://$fqdn/" || die "wget http://$fqdn/ failed: $page"
  ok
}

status_docker_networks() {
  echo "docker networks (driver leasehold-<worker>):"
  docker network ls --filter "label=leasehold.lab=$P" --format '  {{.Name}} {{.Driver}}' 2>/dev/null || echo "  (docker does not answer)"
  if docker inspect "$DRIVER_DEMO" >/dev/null 2>&1; then
    echo "  demo container $DRIVER_DEMO: $(docker inspect -f '{{.State.Status}} {{.Id}}' "$DRIVER_DEMO" | cut -c1-20) on $(docker_network "${WORKERS[0]}")"
  fi
}

# down_docker_networks: after the containers, while the agents (the drivers) still run.
down_docker_networks() {
  local ids
  ids=$(docker network ls -q --filter "label=leasehold.lab=$P" 2>/dev/null || true)
  # shellcheck disable=SC2086  # one id per word
  [ -z "$ids" ] || docker network rm $ids >/dev/null 2>&1 || echo "lab: docker network rm failed for: $ids" >&2
}

up() {
  local demo=true store=${LAB_STORE:-postgresql}
  while [ $# -gt 0 ]; do
    case "$1" in
      --no-demo) demo=false ;;
      --store) store=${2:-}; shift ;;
      *) echo "lab: up: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
  done
  case "$store" in sqlite|postgresql) ;; *) echo "lab: --store takes postgresql or sqlite, not '$store'" >&2; exit 2 ;; esac
  if [ -n "${LEASEHOLD_LAB_CONFIG:-}" ]; then
    echo "lab: LEASEHOLD_LAB_CONFIG is no longer read: the lab builds its server config (lab/server-config.ts);" \
      "put changes in a file of dotted.path: value lines and name it in LEASEHOLD_LAB_CONFIG_EDITS" >&2
    exit 2
  fi
  [ -z "$CONFIG_EDITS" ] || [ -f "$CONFIG_EDITS" ] || { echo "lab: LEASEHOLD_LAB_CONFIG_EDITS=$CONFIG_EDITS: no such file" >&2; exit 2; }
  mkdir -p "$RUN"
  if ! [ -f "$ROOT/dist/server/cli/main.js" ] || ! [ -f "$ROOT/dist/agent/cli/main.js" ] || ! [ -f "$ROOT/dist/lab/server-config.js" ]; then
    die "not built: run make lab-up (it builds first)"
  fi

  step "spine: netns $CORE, bridge $SPINE"
  ensure_netns "$CORE"
  ip -n "$CORE" link show "$SPINE" >/dev/null 2>&1 || ip -n "$CORE" link add "$SPINE" type bridge
  ip -n "$CORE" link set "$SPINE" type bridge stp_state 0
  ip -n "$CORE" link set "$SPINE" up
  ok

  step "dns: named in $DNS ${DNS_V4%/*}, fresh TSIG key"
  ensure_netns "$DNS"
  ensure_spine_port "$DNS" "$P-dns0" eth0
  out=$(role_dns "$DNS" eth0 "$DNS_V4" "$DNS_V6" "$DDNS_KEY_NAME") || die "$out"
  ok

  if [ "$store" = postgresql ]; then ha_up; else single_appliance_up; fi

  for w in "${WORKERS[@]}"; do
    step "worker: $w, br0 ${WORKER_V4[$w]%/*}, agent watch"
    ensure_netns "$w"
    ensure_spine_port "$w" "$w-up" uplink
    out=$(role_worker "$w" uplink "${WORKER_V4[$w]}" "$w") || die "$out"
    ok
  done

  up_prometheus

  if ! $demo; then
    # The networks need the engine; without the demo it is the caller's (the e2e suite starts it).
    if docker info >/dev/null 2>&1; then up_docker_networks; fi
    echo "lab: up (no demo); Prometheus at $PROMETHEUS_URL (from a lab netns: ip netns exec $MON …)"
    return 0
  fi

  step "docker: engine and local images"
  out=$("$ROOT/lab/docker-engine.sh" start 2>&1 && "$ROOT/lab/images/build.sh" 2>&1) || die "$out"
  ok
  up_docker_networks

  step "demo: web container $WEB on ${WORKERS[0]}"
  run_container "$WEB" "${WORKERS[0]}" web leasehold/httpd:latest || die "docker run $WEB failed"
  web_json=$(wait_attached "${WORKERS[0]}" "$WEB") || die "$WEB not attached with IPv4 and IPv6 after 30 s (see $RUN/agent-${WORKERS[0]}.log)"
  ok

  step "demo: client container $CLIENT on ${WORKERS[1]}"
  run_container "$CLIENT" "${WORKERS[1]}" lab leasehold/busybox:latest sleep 2147483647 || die "docker run $CLIENT failed"
  client_json=$(wait_attached "${WORKERS[1]}" "$CLIENT") || die "$CLIENT not attached with IPv4 and IPv6 after 30 s (see $RUN/agent-${WORKERS[1]}.log)"
  ok

  local web_fqdn web_ip web_v6 a='' aaaa=''
  IFS=$'\x1f' read -r web_fqdn web_ip web_v6 < <(json_fields NetworkSettings.FQDN NetworkSettings.IPAddress NetworkSettings.GlobalIPv6Address <<<"$web_json")
  step "demo: $web_fqdn A and AAAA in BIND"
  for _ in $(seq 100); do
    a=$(dig_lab "$web_fqdn" A) aaaa=$(dig_lab "$web_fqdn" AAAA)
    [ "$a" = "$web_ip" ] && [ "$aaaa" = "$web_v6" ] && break
    sleep 0.1
  done
  [ "$a" = "$web_ip" ] || die "$web_fqdn A is '$a', expected $web_ip (see $RUN/server.log)"
  [ "$aaaa" = "$web_v6" ] || die "$web_fqdn AAAA is '$aaaa', expected the SLAAC address $web_v6"
  ok

  # By name, as the seed's demo did: the client's resolver (our resolv.conf)
  # asks BIND, then busybox wget fetches whichever family comes first.
  step "demo: $CLIENT fetches http://$web_fqdn/ by name"
  fetch "http://$web_fqdn/" || die "wget by name failed: $page"
  ok

  # And each family on its own: busybox wget has no -4/-6, so the client
  # looks up A and AAAA itself (nslookup, through BIND) and fetches each.
  local family type addr url
  for family in IPv4 IPv6; do
    type=A; [ $family = IPv6 ] && type=AAAA
    step "demo: $CLIENT resolves $type and fetches over $family"
    addr=$(docker exec "$CLIENT" nslookup -type=$type "$web_fqdn" 2>&1 | awk '/^Address: /{a=$2} END{print a}')
    if [ $family = IPv4 ]; then [ "$addr" = "$web_ip" ] || die "the client resolved A '$addr', expected $web_ip"; url="http://$addr/"
    else [ "$addr" = "$web_v6" ] || die "the client resolved AAAA '$addr', expected $web_v6"; url="http://[$addr]/"; fi
    fetch "$url" || die "wget $url failed: $page"
    ok
  done

  up_driver_demo

  echo
  summary "$web_json" "$client_json"
  local servers_more=''
  [ "$store" = sqlite ] || servers_more=" and $APPLIANCE2 (log $RUN/server2.log),
PostgreSQL in $DB ${DB_V4%/*} (cluster $PG_DIR, log $PG_DIR/postgres.log)"
  cat <<MSG

Lab is up: spine $SPINE in netns $CORE; server in $APPLIANCE (log $RUN/server.log)$servers_more,
BIND in $DNS (zone $DOMAIN, key $RUN/ddns.key), agents in $RUN/agent-*.log.
Prometheus at $PROMETHEUS_URL in $MON (reached from the lab's namespaces, e.g.
  ip netns exec $MON node -e 'fetch("$PROMETHEUS_URL/api/v1/query?query=up").then(r=>r.text()).then(console.log)')
  make lab-status                          servers (buckets, heartbeats), attachments and leases
  docker exec -it $CLIENT sh                  a shell in the client container
  bin/agent --run-dir $RUN/agent-${WORKERS[0]} inspect --all
  make lab-down                            remove everything
MSG
}

# The SQLite lab: one appliance on its own file.
single_appliance_up() {
  step "appliance: leasehold server in $APPLIANCE ${APPLIANCE_V4%/*}"
  ensure_netns "$APPLIANCE"
  ensure_spine_port "$APPLIANCE" "$P-app0" eth0
  out=$(role_appliance "$APPLIANCE" eth0 "$APPLIANCE_V4" "$APPLIANCE_V6" "$DNS_V4" "$DNS_V6" "$DDNS_KEY_NAME" "$CONFIG_EDITS") || die "$out"
  ok
}

# --- High availability: PostgreSQL and two appliances on it -----------------

DB=$P-db DB_V4=198.18.0.4/16
APPLIANCE2=$P-appliance2 APPLIANCE2_V4=198.18.0.3/16 APPLIANCE2_V6=fd00:198:18::3/64
PG_NAME=leasehold PG_DIR=$RUN/pg
HA_STORE_FLAGS=(--pg-host "${DB_V4%/*}" --pg-database "$PG_NAME" --pg-user "$PG_NAME" --pg-password-file "$RUN/pg.password")
# The packaged server programs (postgresql-15), not /usr/local/bin's links.
pg_bin() { find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1; }
pg_psql() { setpriv --reuid=postgres --regid=postgres --clear-groups psql -h "$PG_DIR/sock" -d postgres -qAt -v ON_ERROR_STOP=1 "$@"; }
pg_running() { [ -f "$PG_DIR/data/postmaster.pid" ] && running "$(head -n 1 "$PG_DIR/data/postmaster.pid")"; }

# The cluster under $RUN/pg, run as the packaged postgres user in $DB,
# listening on its lab address and a socket under $RUN only; the appliances
# log in over TCP with a password made here (pg_hba admits nothing else).
ha_postgres_up() {
  local bin; bin=$(pg_bin)
  [ -x "$bin/initdb" ] || { echo "PostgreSQL not installed (lab/install-deps.sh installs postgresql)"; return 1; }
  ensure_netns "$DB"
  ensure_spine_port "$DB" "$P-db0" eth0
  ip -n "$DB" addr replace "$DB_V4" dev eth0
  if ! [ -f "$PG_DIR/data/PG_VERSION" ]; then
    # The cluster runs as postgres, which must be able to reach $PG_DIR: a
    # run directory made by mktemp is 0700, so grant search (not read) on it.
    chmod o+x "$RUN"
    install -d -o postgres -g postgres -m 700 "$PG_DIR" "$PG_DIR/data" "$PG_DIR/sock"
    setpriv --reuid=postgres --regid=postgres --clear-groups "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 || { echo "initdb failed: see $PG_DIR/initdb.log"; return 1; }
    printf 'local all postgres peer\nhost %s %s 198.18.0.0/16 scram-sha-256\n' "$PG_NAME" "$PG_NAME" >"$PG_DIR/data/pg_hba.conf"
  fi
  if ! pg_running; then
    ip netns exec "$DB" setpriv --reuid=postgres --regid=postgres --clear-groups "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 30 \
      -o "-k $PG_DIR/sock -c listen_addresses=${DB_V4%/*} -c port=5432" start >/dev/null ||
      { echo "postgres did not start: see $PG_DIR/postgres.log"; return 1; }
  fi
  if [ -z "$(pg_psql -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_NAME'")" ]; then
    (umask 077 && node -e 'process.stdout.write(require("node:crypto").randomBytes(18).toString("hex") + "\n")' >"$RUN/pg.password") || return 1
    pg_psql -c "CREATE ROLE $PG_NAME LOGIN PASSWORD '$(head -n 1 "$RUN/pg.password")'" || return 1
    # Its own -c: CREATE DATABASE cannot run inside a transaction.
    pg_psql -c "CREATE DATABASE $PG_NAME OWNER $PG_NAME" || return 1
  fi
}

# Both appliances, from the same lab parameters but their own addresses
# and ha.serverName (SERVER_NAME: appliance-1, appliance-2).
ha_appliance() {
  local ns=$1 name=$2 v4=$3 v6=$4 port=$5 server_name=$6
  ensure_netns "$ns"
  ensure_spine_port "$ns" "$port" eth0
  role_appliance "$ns" eth0 "$v4" "$v6" "$DNS_V4" "$DNS_V6" "$DDNS_KEY_NAME" "$CONFIG_EDITS" "$name" "${HA_STORE_FLAGS[@]}" --ha-server-name "$server_name"
}

ha_up() {
  step "postgresql: cluster $PG_DIR in $DB ${DB_V4%/*}"
  out=$(ha_postgres_up 2>&1) || die "$out"
  ok
  # The schema, once, before a server checks it at start: from $DB itself
  # (the database's lab address is local there), with the appliances' store.
  step "postgresql: schema"
  ensure_control_token || die "no control token"
  out=$(node "$ROOT/dist/lab/server-config.js" --key-file "$RUN/ddns.key" --token-file "$RUN/control.token" "${HA_STORE_FLAGS[@]}" --ha-server-name lab-admin "$RUN/db.yaml" 2>&1) || die "$out"
  if ! ip netns exec "$DB" node "$ROOT/dist/server/cli/main.js" db version --config "$RUN/db.yaml" >/dev/null 2>&1; then
    out=$(ip netns exec "$DB" node "$ROOT/dist/server/cli/main.js" db init --config "$RUN/db.yaml" 2>&1) || die "$out"
  fi
  ok
  step "appliance: leasehold server in $APPLIANCE ${APPLIANCE_V4%/*} (shared store)"
  out=$(ha_appliance "$APPLIANCE" server "$APPLIANCE_V4" "$APPLIANCE_V6" "$P-app0" appliance-1 2>&1) || die "$out"
  ok
  step "appliance: leasehold server in $APPLIANCE2 ${APPLIANCE2_V4%/*} (shared store)"
  out=$(ha_appliance "$APPLIANCE2" server2 "$APPLIANCE2_V4" "$APPLIANCE2_V6" "$P-app20" appliance-2 2>&1) || die "$out"
  ok
  PROMETHEUS_SERVERS+=("appliance2=${APPLIANCE2_V4%/*}:8000")
}

# What each server says about itself: status-get over its control API (the
# HTTP endpoint on its lab address, with the lab's token): whether it is
# healthy or fenced, and from its `ha` part every server on the database
# with the RFC 3074 buckets it answers (a count and the ranges) and how old
# its heartbeat is.
ha_status() {
  local ns v4
  for ns in "$APPLIANCE:$APPLIANCE_V4" "$APPLIANCE2:$APPLIANCE2_V4"; do
    v4=${ns#*:} ns=${ns%%:*}
    have_netns "$ns" || continue
    # shellcheck disable=SC2016  # JavaScript, not shell
    ip netns exec "$ns" node -e '
      const [url, tokenFile, ns] = process.argv.slice(1);
      const token = require("node:fs").readFileSync(tokenFile, "utf8").trim();
      const head = `  ${ns} ${new URL(url).hostname}:`;
      fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ command: "status-get" }) })
        .then((r) => r.json()).then((j) => {
          const a = (Array.isArray(j) ? j[0] : j).arguments ?? {}, ha = a.ha;
          if (!ha) return console.log(`${head} ${a.healthy ? "healthy" : "unhealthy"}, no ha part`);
          console.log(`${head} ${ha["server-name"]}, ${ha.fenced ? "FENCED (" + ha["fence-reason"] + ")" : "serving"}, live: ${ha.live.join(" ")}, own heartbeat ${ha["heartbeat-age-ms"]} ms ago`);
          for (const s of ha.servers) {
            const ranges = s["bucket-ranges"].length > 60 ? s["bucket-ranges"].slice(0, 57) + "..." : s["bucket-ranges"];
            console.log(`    ${s["server-name"].padEnd(12)} ${s.state.padEnd(8)} heartbeat ${String((s["heartbeat-age-ms"] / 1000).toFixed(1)).padStart(6)} s ago  ${String(s.buckets).padStart(3)} buckets ${ranges}`);
          }
        })
        .catch((e) => console.log(`${head} no answer (${e.cause?.code ?? e.message})`));' "http://${v4%/*}:8000/" "$RUN/control.token" "$ns"
  done
}

# status_ha: the HA lab's second server, the database, and what each server says.
status_ha() {
  if pid=$(daemon_pid server2); then echo "server2 ($APPLIANCE2): running (pid $pid)"; else echo "server2 ($APPLIANCE2): not running"; fi
  if pg_running; then echo "postgresql ($DB ${DB_V4%/*}): running (pid $(head -n 1 "$PG_DIR/data/postmaster.pid"))"; else echo "postgresql ($DB): not running"; fi
  echo "servers (status-get of each; buckets of 256, RFC 3074):"
  ha_status
}

ha_down() {
  stop_daemon server2
  local bin; bin=$(pg_bin)
  if pg_running; then
    setpriv --reuid=postgres --regid=postgres --clear-groups "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 ||
      stop_pid "$(head -n 1 "$PG_DIR/data/postmaster.pid")"
  fi
  rm -rf "$PG_DIR" "$RUN/pg.password"
}

# fetch URL: the welcome page from the client container (three tries: the
# first packet to a fresh neighbour can be lost while ARP/ND resolves).
# busybox timeout, not wget -T: this static busybox build segfaults on -T.
fetch() {
  for _ in 1 2 3; do
    page=$(docker exec "$CLIENT" timeout 5 wget -q -O - "$1" 2>&1) && grep -q 'Welcome to Leasehold' <<<"$page" && return 0
    sleep 1
  done
  return 1
}

summary() {
  printf '%-10s %-13s %-11s %-31s %s\n' CONTAINER ID IPV4 IPV6 FQDN
  for json in "$@"; do
    local name id fqdn ip v6
    IFS=$'\x1f' read -r name id fqdn ip v6 < <(json_fields Name Container NetworkSettings.FQDN NetworkSettings.IPAddress NetworkSettings.GlobalIPv6Address <<<"$json")
    printf '%-10s %-13s %-11s %-31s %s\n' "$name" "$id" "$ip" "$v6" "$fqdn"
    printf '%10s BIND: A %s  AAAA %s\n' '' "$(dig_lab "$fqdn" A | xargs)" "$(dig_lab "$fqdn" AAAA | xargs)"
    printf '%10s       PTR %s → %s  PTR %s → %s\n' '' "$ip" "$(dig_lab -x "$ip" | xargs)" "$v6" "$(dig_lab -x "$v6" | xargs)"
  done
}

# up_prometheus: the agents' metrics relays, then Prometheus in $MON with
# the config lab/prometheus-config.ts builds from the targets, its storage
# under $RUN/prometheus; ready when its /-/ready answers.
up_prometheus() {
  local w args=() server
  step "prometheus: in $MON ${MON_V4%/*}, scraping servers and agents"
  ensure_netns "$MON"
  ensure_spine_port "$MON" "$P-mon0" eth0
  ip -n "$MON" addr replace "$MON_V4" dev eth0
  for w in "${WORKERS[@]}"; do
    daemon "metrics-relay-$w" "$w" node "$ROOT/dist/lab/unix-relay.js" "${WORKER_V4[$w]%/*}:$AGENT_METRICS_PORT" "$RUN/agent-$w/metrics.sock"
    out=$(wait_log "metrics-relay-$w" 'unix-relay: ' 10) || die "$out"
    args+=(--agent "$w=${WORKER_V4[$w]%/*}:$AGENT_METRICS_PORT")
  done
  for server in "${PROMETHEUS_SERVERS[@]}"; do args+=(--server "$server"); done
  mkdir -p "$RUN/prometheus/data"
  out=$(node "$ROOT/dist/lab/prometheus-config.js" "${args[@]}" --token-file "$RUN/control.token" "$RUN/prometheus/prometheus.yml" 2>&1) || die "$out"
  daemon prometheus "$MON" prometheus --config.file="$RUN/prometheus/prometheus.yml" \
    --storage.tsdb.path="$RUN/prometheus/data" --web.listen-address="${MON_V4%/*}:$PROMETHEUS_PORT"
  for _ in $(seq 300); do
    prometheus_get /-/ready >/dev/null 2>&1 && { ok; return 0; }
    daemon_pid prometheus >/dev/null || die "prometheus exited: $(tail -n 3 "$RUN/prometheus.log")"
    sleep 0.1
  done
  die "prometheus not ready after 30 s: see $RUN/prometheus.log"
}

# prometheus_get PATH: the body of Prometheus's answer, from inside $MON.
prometheus_get() {
  ip netns exec "$MON" node -e 'fetch(process.argv[1]).then(async r=>{const t=await r.text();if(!r.ok)throw new Error(r.status+" "+t);process.stdout.write(t)}).catch(e=>{console.error(String(e.cause??e));process.exit(1)})' "$PROMETHEUS_URL$1"
}

# status_prometheus: whether each target is up, and a few figures as
# Prometheus last scraped them (FIGURE=PROMQL, one row per instance).
status_prometheus() {
  daemon_pid prometheus >/dev/null || { echo "prometheus: not running"; return 0; }
  echo "prometheus: $PROMETHEUS_URL in $MON (figures as last scraped):"
  local figure
  for figure in 'up=up' \
    'assigned addresses=sum by (instance_name) (leasehold_dhcp4_subnet_assigned_addresses)' \
    'ACKs sent=sum by (instance_name) (leasehold_dhcp4_packets_sent_total{type="ack"})' \
    'DDNS queue depth=leasehold_ddns_queue_depth' \
    'attachments=leasehold_agent_attachments'; do
    prometheus_get "/api/v1/query?query=$(node -p 'encodeURIComponent(process.argv[1])' "${figure#*=}")" 2>/dev/null | node -e '
      let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let r=[];try{r=JSON.parse(s).data.result}catch{}
      for(const x of r)console.log("  "+process.argv[1].padEnd(20)+" "+String(x.metric.instance_name??"").padEnd(12)+" "+x.value[1])})' "${figure%%=*}"
  done
}

# down_prometheus: Prometheus and the relays (its files go with $RUN).
down_prometheus() {
  local w
  stop_daemon prometheus
  for w in "${WORKERS[@]}"; do stop_daemon "metrics-relay-$w"; done
}

status() {
  echo "namespaces: $(ip netns list | awk -v p="^$P-" '$1 ~ p {print $1}' | xargs echo)"
  if pid=$(daemon_pid server); then echo "server ($APPLIANCE): running (pid $pid)"; else echo "server ($APPLIANCE): not running"; fi
  [ -f "$RUN/server2.yaml" ] && status_ha
  if pid=$(named_pid); then echo "named: running (pid $pid)"; else echo "named: not running"; fi
  echo
  echo "attachments:"
  printf '  %-8s %-14s %-16s %-18s %-15s %-30s %s\n' WORKER CONTAINER NAME MAC IPV4 IPV6 FQDN
  for w in "${WORKERS[@]}"; do
    [ -d "$RUN/agent-$w" ] || continue
    if pid=$(daemon_pid "agent-$w"); then :; else echo "  $w: agent not running"; fi
    "${AGENT[@]}" --run-dir "$RUN/agent-$w" inspect --all --json | node -e '
      let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const j of JSON.parse(s)){const n=j.NetworkSettings;
      console.log("  "+[process.argv[1].padEnd(8),j.Container.padEnd(14),j.Name.padEnd(16),n.HWAddr.padEnd(18),(n.IPAddress||"-").padEnd(15),(n.GlobalIPv6Address||"-").padEnd(30),n.FQDN].join(" "))}})' "$w"
  done
  if [ -f "$RUN/leases.db" ]; then
    echo
    echo "leases:"
    node "$ROOT/dist/server/cli/main.js" leases --config "$RUN/leasehold.yaml" --store "$RUN/leases.db"
  elif [ -f "$RUN/server2.yaml" ] && pg_running; then
    echo
    echo "leases (the shared table, read from $APPLIANCE: the database is reached only inside the lab):"
    ip netns exec "$APPLIANCE" node "$ROOT/dist/server/cli/main.js" leases --config "$RUN/leasehold.yaml" || echo "  (could not read the database)"
  fi
  if daemon_pid server >/dev/null && [ -f "$RUN/leases.db" ]; then
    echo
    echo "live figures (leasehold-server stats; all of them: GET http://${APPLIANCE_V4%/*}:8000/metrics with the token in $RUN/control.token):"
    node "$ROOT/dist/server/cli/main.js" stats --config "$RUN/leasehold.yaml" --store "$RUN/leases.db" |
      grep -E '^(STATISTIC|pkt4-(received|ack-sent|nak-sent|parse-failed|receive-drop)|subnet\[.*\]\.(total|assigned|declined)-addresses|update-(sent|error)) ' | sed 's/^/  /' || echo "  (the server did not answer on its control socket)"
  fi
  echo
  status_docker_networks
  echo
  status_prometheus
}

down() {
  # The lab's containers go first, while the agents still watch: each one's
  # lease is released and its names withdrawn, as in production.
  local ids
  ids=$(docker ps -aq --filter "label=leasehold.lab=$P" 2>/dev/null || true)
  if [ -n "$ids" ]; then
    # One retry: Docker can race its own cleanup of a dying container; a
    # failure here must not stop the rest of the teardown.
    # shellcheck disable=SC2086  # one id per word
    docker rm -f $ids >/dev/null 2>&1 || { sleep 1; docker rm -f $ids >/dev/null 2>&1; } || echo "lab: docker rm failed for: $ids" >&2
    for w in "${WORKERS[@]}"; do
      [ -d "$RUN/agent-$w" ] || continue
      for _ in $(seq 100); do
        [ "$("${AGENT[@]}" --run-dir "$RUN/agent-$w" inspect --all --json 2>/dev/null | tr -d '[:space:]')" = "[]" ] && break
        sleep 0.1
      done
    done
  fi
  down_docker_networks
  for w in "${WORKERS[@]}"; do
    stop_daemon "agent-$w"
    # Anything the watcher did not get to: detach it (release, veth, netns).
    if [ -d "$RUN/agent-$w" ]; then "${AGENT[@]}" --run-dir "$RUN/agent-$w" gc >/dev/null 2>&1 || true; fi
  done
  down_prometheus
  stop_daemon server
  ha_down
  stop_dns
  for ns in $(ip netns list | awk -v p="^$P-" '$1 ~ p {print $1}'); do ip netns del "$ns"; done
  rm -rf "$RUN"
  echo "lab: down"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  status) status ;;
  down) down ;;
  *) echo "usage: lab/lab.sh up [--no-demo] [--store postgresql|sqlite] | status | down" >&2; exit 2 ;;
esac
