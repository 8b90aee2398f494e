#!/usr/bin/env bash
# The container image, built for real from the Dockerfile (scripts/container-image: podman, a
# debootstrap base, no registry) and run the way the manifests run it: its own user, read-only
# root filesystem, no capability, no network. Driven by ctest (label container, a stage of its own
# in scripts/test):
#   container_image_test.sh VERSION
# VERSION is the project's (CMake's PROJECT_VERSION), which `--version` in the image must print.
# Exit 77 (skipped) saying what is missing: root, podman, runc, debootstrap (only while no base
# tarball is cached). docs/deploy/container.md says what this covers and what it does not.
set -uo pipefail
version=$1
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
image=oomsentinel:test
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

[[ $(id -u) -eq 0 ]] || skip "not root: the image is built and run with rootful podman"
command -v podman >/dev/null || skip "podman is not installed (Debian package podman; scripts/deps)"
command -v runc >/dev/null || skip "runc is not installed (Debian package runc; scripts/deps)"
cache=${OOMSENTINEL_IMAGE_CACHE:-/var/cache/oomsentinel}
[[ -s "$cache/debian-bookworm-slim.tar" ]] || command -v debootstrap >/dev/null ||
  skip "no cached base ($cache/debian-bookworm-slim.tar) and debootstrap is not installed"

"$source_dir/scripts/container-image" "$image" || fail "scripts/container-image failed"
# shellcheck source=/dev/null
source <("$source_dir/scripts/container-image" --env)

# As the manifests run it (deploy/kubernetes/sidecar.yaml's securityContext): the image's own
# user, nothing writable but what is mounted, every capability dropped.
locked=(--rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges)
run() { podman run "${locked[@]}" "$@"; }

out=$(run "$image" --version 2>&1) || fail "--version exited $?: $out"
[[ "$out" == "oomsentinel $version" ]] || fail "--version printed '$out', not 'oomsentinel $version'"
echo "ok: $out"

# The default user is the unprivileged one the Dockerfile names, not root.
uid=$(run --entrypoint /usr/bin/id "$image" -u 2>&1) || fail "id -u in the image: $uid"
[[ "$uid" == 65532 ]] || fail "the image runs as uid '$uid', not 65532"
echo "ok: runs as uid $uid"

# The example config the image carries is valid, and check-config really checks (a file that is
# not a config fails): the binary, its libraries and its config parser work inside the image.
out=$(run "$image" check-config /etc/oomsentinel/oomsentinel.yaml 2>&1) ||
  fail "check-config on the image's own config: $out"
echo "ok: check-config /etc/oomsentinel/oomsentinel.yaml"
if out=$(run "$image" check-config /etc/os-release 2>&1); then
  fail "check-config accepted /etc/os-release: $out"
fi
echo "ok: check-config rejects /etc/os-release"

# Every shared library of the binary and of its TLS module (loaded only for an https://
# Alertmanager URL, so --version above never loads it) resolves inside the runtime stage.
for f in /usr/local/bin/oomsentinel /usr/local/lib/oomsentinel/oomsentinel-tls.so; do
  out=$(run --entrypoint /usr/bin/ldd "$image" "$f" 2>&1) || fail "ldd $f in the image: $out"
  grep -q 'not found' <<<"$out" && fail "a library of $f is missing from the image: $out"
done
echo "ok: every library of the binary and its TLS module is in the image"

# The CA store the https client uses.
run --entrypoint /usr/bin/test "$image" -s /etc/ssl/certs/ca-certificates.crt ||
  fail "no /etc/ssl/certs/ca-certificates.crt in the image"
echo "ok: CA store present"

size=$(podman image inspect --format '{{.Size}}' "$image")
echo "image $image: $((size / 1000000)) MB"
exit 0
