#!/usr/bin/env bash
# Builds the lab's local images. No registry is reachable, so both are built
# FROM scratch out of Debian's static busybox (package busybox-static):
#
#   leasehold/busybox:latest  /bin/busybox, its applets as symlinks, CMD sh
#   leasehold/httpd:latest    the same plus a welcome page on port 80 (v4+v6)
#
# Each image carries a label with the hash of what it was built from (the
# busybox binary, the files under lab/images/<name>/, its base image's hash),
# so an image is rebuilt only when it is missing or one of those changed:
# running this again when nothing changed takes a fraction of a second.
# The binary is copied into a temp build context; it is never committed.
#
#   lab/images/build.sh [--force]
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
# Packaged programs only (lab/programs.txt): docker is docker.io's client.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
BUSYBOX=${LEASEHOLD_BUSYBOX:-/bin/busybox}
# Built in this order: each one's base comes first.
IMAGES=(busybox httpd)
INPUTS_LABEL=leasehold.image.inputs
BUSYBOX_LABEL=leasehold.busybox.sha256
force=false
[ "${1:-}" = --force ] && force=true

say() { echo "images: $*"; }
die() { echo "images: $*" >&2; exit 1; }

timeout 10 docker info >/dev/null 2>&1 || die "the Docker engine does not answer: run lab/docker-engine.sh start (or make docker)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX is missing: install busybox-static (lab/install-deps.sh)"
# A FROM scratch image has no libc: a dynamic busybox (package busybox) would
# not even start.
if LC_ALL=C ldd "$BUSYBOX" >/dev/null 2>&1; then
  die "$BUSYBOX is dynamically linked: install busybox-static (lab/install-deps.sh)"
fi
busybox_sha=$(sha256sum "$BUSYBOX" | cut -d' ' -f1)

# sha256 over names, modes and contents of every file in lab/images/$1/,
# plus extra strings ($2…): the busybox hash, the base image's inputs.
inputs_hash() {
  local dir=$HERE/$1
  shift
  {
    printf '%s\n' "$@"
    (cd "$dir" && find . -type f -printf '%p %m\n' | LC_ALL=C sort)
    (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
}

label_of() { # image, label → value, empty when the image or label is missing
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

context=$(mktemp -d /tmp/lh-images-XXXXXX)
trap 'rm -rf "$context"' EXIT

base_inputs=
for name in "${IMAGES[@]}"; do
  tag=leasehold/$name:latest
  inputs=$(inputs_hash "$name" "busybox $busybox_sha" "base $base_inputs")
  base_inputs=$inputs
  if ! $force && [ "$(label_of "$tag" "$INPUTS_LABEL")" = "$inputs" ]; then
    say "$tag is up to date"
    continue
  fi
  old=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  rm -rf "${context:?}/$name"
  cp -a "$HERE/$name" "$context/$name"
  [ "$name" = busybox ] && cp "$BUSYBOX" "$context/$name/busybox"
  start=$(date +%s%N)
  # The classic builder: it needs nothing from a registry for FROM scratch or
  # a local base. --network none: the engine has no bridge for RUN steps.
  if ! log=$(DOCKER_BUILDKIT=0 docker build --network none --quiet \
      --label "$INPUTS_LABEL=$inputs" --label "$BUSYBOX_LABEL=$busybox_sha" \
      --tag "$tag" "$context/$name" 2>&1); then
    echo "$log" >&2
    die "building $tag failed"
  fi
  say "built $tag ($(docker image inspect --format '{{.Id}}' "$tag" | cut -c8-19), $(( ($(date +%s%N) - start) / 1000000 )) ms)"
  # The previous build is now untagged: remove it unless a container still
  # uses it (or an image built on it does; that one goes with it later).
  new=$(docker image inspect --format '{{.Id}}' "$tag")
  if [ -n "$old" ] && [ "$old" != "$new" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
done
