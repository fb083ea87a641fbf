# Leasehold. `make lab-up` brings up the lab; `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help deps build typecheck lint test test-unit lab-up lab-down lab-status bench bench-dhcp4 bench-ddns bench-ra clean

help:
	@echo "make lab-up     bring up the lab (namespaces, leasehold server) and show how to reach it"
	@echo "make lab-status show the lab and its lease table"
	@echo "make lab-down   remove everything the lab made"
	@echo "make test       install what is needed, type-check, lint, run unit + integration tests"
	@echo "make bench      all benchmarks: DHCPv4 (perfdhcp vs kea-dhcp4), DDNS (vs kea + kea-dhcp-ddns), RA (vs radvd)"
	@echo "                (one at a time: make bench-dhcp4, bench-ddns, bench-ra)"

deps:
	@lab/install-deps.sh

build: deps
	@npx tsc -p tsconfig.json

typecheck: deps
	@npx tsc -p tsconfig.json --noEmit

lint: deps
	@npx eslint .

test: build lint
	@test/run-suites.sh

test-unit: deps
	@npx ava 'test/unit/**/*.test.ts'

lab-up: build
	@lab/lab.sh up

lab-status:
	@lab/lab.sh status

lab-down:
	@lab/lab.sh down

bench: bench-dhcp4 bench-ddns bench-ra

bench-dhcp4: build
	@node --import=tsx test/bench/dhcp4-bench.ts

bench-ddns: build
	@node --import=tsx test/bench/ddns-bench.ts

bench-ra: build
	@node --import=tsx test/bench/ra-bench.ts

clean:
	rm -rf dist
