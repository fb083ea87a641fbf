# Leasehold. `make lab-up` brings up the lab; `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help deps build typecheck lint test test-unit docker docker-down lab-up lab-down lab-status bench bench-dhcp4 bench-flood bench-ddns bench-ra bench-agent bench-ha clean

help:
	@echo "make lab-up     bring up the lab (PostgreSQL, two appliances, BIND, two workers with agents) and run the demo; LAB_STORE=sqlite: one appliance"
	@echo "make install    build, link agent and leasehold-server into /usr/local/bin, the CNI plugin into /usr/lib/cni and /opt/cni/bin (root)"
	@echo "make lab-status show the lab and its lease table"
	@echo "make lab-down   remove everything the lab made"
	@echo "make test       install what is needed, type-check, lint, run unit + integration + e2e tests"
	@echo "make docker     start the Docker engine (unless one runs) and build the local images"
	@echo "make docker-down stop the Docker engine, if make docker started it"
	@echo "make bench      all benchmarks: DHCPv4 (perfdhcp vs kea-dhcp4), DHCPv4 flood (vs kea-dhcp4), DDNS (vs kea + kea-dhcp-ddns), RA (vs radvd),"
	@echo "                agent attach latency and memory, HA (PostgreSQL: Leasehold vs kea-dhcp4, two servers on one database)"
	@echo "                (one at a time: make bench-dhcp4, bench-flood, bench-ddns, bench-ra, bench-agent, bench-ha)"

deps:
	@lab/install-deps.sh

build: deps native
	@npx tsc -p tsconfig.json

# The RA sender's raw ICMPv6 socket, a N-API addon (server/native/icmpv6),
# built with npm's own node-gyp against the headers of the Node that runs
# it (its install prefix holds include/node): nothing is downloaded.
NATIVE_ICMPV6 := server/native/icmpv6/build/Release/icmpv6.node
# The DHCPv4 sockets with recvmmsg/sendmmsg (server/native/dhcp4sock); the
# server falls back to Node's dgram when it is not built.
NATIVE_DHCP4SOCK := server/native/dhcp4sock/build/Release/dhcp4sock.node

.PHONY: native
native: $(NATIVE_ICMPV6) $(NATIVE_DHCP4SOCK)

$(NATIVE_ICMPV6): server/native/icmpv6/binding.gyp server/native/icmpv6/icmpv6.c server/native/common/napi-helpers.h | deps
	@node "$$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js" rebuild --loglevel=warn \
	  --directory=server/native/icmpv6 --nodedir="$$(node -p 'path.dirname(path.dirname(process.execPath))')"

$(NATIVE_DHCP4SOCK): server/native/dhcp4sock/binding.gyp server/native/dhcp4sock/dhcp4sock.c server/native/common/napi-helpers.h | deps
	@node "$$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js" rebuild --loglevel=warn \
	  --directory=server/native/dhcp4sock --nodedir="$$(node -p 'path.dirname(path.dirname(process.execPath))')"

typecheck: deps
	@npx tsc -p tsconfig.json --noEmit

lint: deps
	@npx eslint .

test: build lint docker
	@test/run-suites.sh

test-unit: deps
	@npx ava 'test/unit/**/*.test.ts'

# The engine runs with no bridge and no iptables rules; images are built
# FROM scratch out of busybox-static (no registry is reachable). Without root
# there is nothing to do: only the integration and e2e tests, run as root, use it.
docker: deps
	@if [ "$$(id -u)" != 0 ]; then echo "docker: skipped (starting the engine needs root)"; \
	else lab/docker-engine.sh start && lab/images/build.sh; fi

docker-down:
	@lab/docker-engine.sh stop

# The commands on PATH: symlinks to bin/, which run this checkout's dist/;
# the CNI plugin as `leasehold` in Debian's CNI directory and containerd's default one.
CNI_BIN_DIRS ?= /usr/lib/cni /opt/cni/bin
.PHONY: install
install: build
	@for c in agent leasehold-server; do \
	  if [ -e /usr/local/bin/$$c ] && [ ! -L /usr/local/bin/$$c ]; then \
	    echo "install: /usr/local/bin/$$c exists and is not a link: left alone" >&2; exit 1; fi; \
	  ln -sfn "$(CURDIR)/bin/$$c" /usr/local/bin/$$c; done
	@for d in $(CNI_BIN_DIRS); do \
	  if [ -e $$d/leasehold ] && [ ! -L $$d/leasehold ]; then \
	    echo "install: $$d/leasehold exists and is not a link: left alone" >&2; exit 1; fi; \
	  mkdir -p $$d && ln -sfn "$(CURDIR)/bin/leasehold-cni" $$d/leasehold; done

lab-up: install docker
	@lab/lab.sh up

lab-status:
	@lab/lab.sh status

# The Docker engine goes too, if this project's script started it (an
# engine that was already running is never touched).
lab-down:
	@lab/lab.sh down
	@lab/docker-engine.sh stop

bench: bench-dhcp4 bench-flood bench-ddns bench-ra bench-agent bench-ha

bench-dhcp4: build
	@node --import=tsx test/bench/dhcp4-bench.ts

bench-flood: build
	@node --import=tsx test/bench/flood-bench.ts

bench-ddns: build
	@node --import=tsx test/bench/ddns-bench.ts

bench-ra: build
	@node --import=tsx test/bench/ra-bench.ts

bench-agent: build docker
	@node --import=tsx test/bench/agent-bench.ts

bench-ha: build
	@node --import=tsx test/bench/ha-bench.ts

clean:
	rm -rf dist server/native/icmpv6/build
