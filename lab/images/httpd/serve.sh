#!/bin/sh
# Writes the welcome page with this container's hostname (its short id under
# Docker, the name DHCP and DNS give it), then serves /www in the foreground.
set -e
host=$(hostname)
cat >/www/index.html <<PAGE
<!doctype html>
<html>
<head><title>Welcome to Leasehold</title></head>
<body>
<h1>Welcome to Leasehold</h1>
<p>Served by container <b>$host</b>.</p>
</body>
</html>
PAGE
# -f: foreground; -v: log each request to stderr (docker logs). With only a
# port, busybox binds [::] (dual stack) when the kernel has IPv6, so it
# answers on both families. It runs as our child, not as PID 1: PID 1 gets
# no default signal action, so `docker stop` would wait 10 s for its SIGKILL;
# this shell forwards SIGTERM instead.
httpd -f -v -p "${PORT:-80}" -h /www &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
# The first wait returns when a trapped signal arrives, the second when
# httpd has exited.
wait "$pid" || true
wait "$pid"
